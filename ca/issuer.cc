// issuer.cc — the operational-certificate profile: what a device certificate contains is decided
// here and nowhere else (the CSR contributes only its public key).
#include "ca/issuer.h"

#include <mbedtls/sha256.h>

#include <algorithm>
#include <cstring>

#include "base/scoped.h"
#include "ca/encoding.h"
#include "ca/lint.h"
#include "ca/signer.h"
#include "ca/tbs.h"

namespace ca {
namespace {

constexpr size_t kMaxPublicKeyDer = 1024;  // a P-256 SubjectPublicKeyInfo is 91 bytes

// RFC 3986 percent-encoding: unreserved characters (ALPHA DIGIT - . _ ~) as is, every other byte
// as %XX with uppercase hex, so the URI is unambiguous and reversible.
std::string PercentEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0x0f]);
    }
  }
  return out;
}

std::string SubjectFor(std::string_view device_id, const Profile& profile) {
  std::string dn = "CN=" + EscapeDnValue(device_id);
  if (!profile.organization.empty()) dn += ",O=" + EscapeDnValue(profile.organization);
  if (!profile.organizational_unit.empty())
    dn += ",OU=" + EscapeDnValue(profile.organizational_unit);
  if (!profile.identity_scope.empty()) dn += ",dnQualifier=" + profile.identity_scope;
  return dn;
}

bool IsValidScope(std::string_view scope) {
  return scope.size() <= 64 &&
         scope.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}


Result<void> ParseDeviceKey(std::span<const unsigned char> der, PkContext& pk) {
  if (der.empty() || der.size() > kMaxPublicKeyDer) {
    return Fail(Code::kMalformed, "public key DER is " + std::to_string(der.size()) + " bytes");
  }
  int ret = mbedtls_pk_parse_public_key(pk.get(), der.data(), der.size());
  if (ret != 0) return Fail(Code::kMalformed, MbedtlsError("mbedtls_pk_parse_public_key", ret));
  if (!IsP256(*pk.get())) {
    return Fail(Code::kUnsupportedKey,
                "device key is " + DescribeKey(*pk.get()) + ", need EC P-256");
  }
  return {};
}

struct Validity {
  base::UnixTime not_before;
  base::UnixTime not_after;
};

// notBefore is backdated for device clock skew, but not before the CA's notBefore; notAfter never
// outlives the CA, because a chain is only as valid as its shortest-lived link and devices should
// renew before the CA expires. (Lint refuses validity outside the CA's.)
Result<Validity> ValidityFor(base::UnixTime now, const Profile& profile,
                             const mbedtls_x509_crt& ca) {
  if (profile.validity_seconds <= 0 || profile.backdate_seconds < 0) {
    return Fail(Code::kInvalidArgument, "profile validity must be > 0 and backdate >= 0");
  }
  const base::UnixTime ca_not_after = ToUnixTime(ca.valid_to);
  Validity v{std::max(now - profile.backdate_seconds, ToUnixTime(ca.valid_from)),
             std::min(now + profile.validity_seconds, ca_not_after)};
  if (v.not_after <= now) {
    return Fail(Code::kPolicy, "CA certificate expires at " + Iso8601(ca_not_after) +
                                   ", not after now " + Iso8601(now));
  }
  return v;
}

Result<PreparedCert> Describe(const mbedtls_x509_crt& crt, base::Bytes tbs, std::string_view uri) {
  auto key_der = PublicKeyDer(crt.pk);
  if (!key_der) return std::unexpected(key_der.error());
  PreparedCert out;
  out.serial_hex = CertSerialHex(crt);
  out.subject = DnString(crt.subject);
  out.san = "URI:" + std::string(uri);
  out.not_before = ToUnixTime(crt.valid_from);
  out.not_after = ToUnixTime(crt.valid_to);
  out.public_key_sha256 = Sha256Hex(*key_der);
  out.tbs = std::move(tbs);
  return out;
}

// The record of a certificate just signed, read from the parse that checked it (CheckSigned).
Result<IssuedCert> DescribeSigned(const mbedtls_x509_crt& crt, base::Bytes der) {
  auto key_der = PublicKeyDer(crt.pk);
  if (!key_der) return std::unexpected(key_der.error());
  IssuedCert out;
  out.serial_hex = CertSerialHex(crt);
  out.subject = DnString(crt.subject);
  out.san = SanString(crt);
  out.not_before = ToUnixTime(crt.valid_from);
  out.not_after = ToUnixTime(crt.valid_to);
  out.fingerprint_sha256 = CertFingerprint(crt);
  out.public_key_sha256 = Sha256Hex(*key_der);
  out.der = std::move(der);
  return out;
}

// The moment ValidityFor was given to produce crt's validity: notBefore is now - backdate unless
// clamped to the CA's notBefore, in which case notAfter is now + validity unless clamped to the
// CA's notAfter. When both are clamped every moment in between gives the same validity: the
// latest is taken. A validity ValidityFor cannot produce yields a moment whose rebuild differs.
base::UnixTime BuildTimeOf(const mbedtls_x509_crt& crt, const Profile& profile,
                           const mbedtls_x509_crt& ca) {
  const base::UnixTime not_before = ToUnixTime(crt.valid_from);
  const base::UnixTime ca_not_before = ToUnixTime(ca.valid_from);
  if (not_before > ca_not_before) return not_before + profile.backdate_seconds;
  const base::UnixTime not_after = ToUnixTime(crt.valid_to);
  if (not_after < ToUnixTime(ca.valid_to)) return not_after - profile.validity_seconds;
  return ca_not_before + profile.backdate_seconds;
}

bool SameBytes(const mbedtls_x509_buf& a, const mbedtls_x509_buf& b) {
  return a.len == b.len && (a.len == 0 || std::memcmp(a.p, b.p, a.len) == 0);
}

std::string ValidityText(const mbedtls_x509_crt& crt) {
  return Iso8601(ToUnixTime(crt.valid_from)) + ".." + Iso8601(ToUnixTime(crt.valid_to));
}

// The first field in which a stored TBS (got) differs from the rebuilt one (want), for the log.
std::string FirstDifference(const mbedtls_x509_crt& got, const mbedtls_x509_crt& want) {
  if (!SameBytes(got.subject_raw, want.subject_raw)) {
    return "subject: " + DnString(got.subject) + ", want " + DnString(want.subject);
  }
  if (SanString(got) != SanString(want)) {
    return "subjectAltName: " + SanString(got) + ", want " + SanString(want);
  }
  if (!SameBytes(got.pk_raw, want.pk_raw)) return "public key: not the CSR's key";
  if (ValidityText(got) != ValidityText(want)) {
    return "validity: " + ValidityText(got) + ", want " + ValidityText(want);
  }
  if (!SameBytes(got.issuer_raw, want.issuer_raw)) {
    return "issuer: " + DnString(got.issuer) + ", want " + DnString(want.issuer);
  }
  if (!SameBytes(got.v3_ext, want.v3_ext)) return "extensions: not the profile's";
  return "encoding: not the profile's";
}

}  // namespace

Result<std::unique_ptr<Issuer>> Issuer::Load(std::string_view ca_cert_pem,
                                             std::string_view ca_key_pem, Rng rng) {
  auto key = LoadFileCaKey(ca_key_pem, rng);
  if (!key) return std::unexpected(key.error());
  return Load(ca_cert_pem, std::move(*key));
}

Result<std::unique_ptr<Issuer>> Issuer::Load(std::string_view ca_cert_pem,
                                             std::unique_ptr<CaKey> ca_key) {
  auto cert = ParseCertificates(ca_cert_pem);
  if (!cert) return std::unexpected(cert.error());
  mbedtls_x509_crt* crt = (*cert)->get();  // the first certificate issues; any others are chain
  if (mbedtls_x509_crt_get_ca_istrue(crt) != 1) {
    return Fail(Code::kInvalidArgument, "CA certificate lacks basicConstraints cA=TRUE");
  }
  if (mbedtls_x509_crt_check_key_usage(crt, MBEDTLS_X509_KU_KEY_CERT_SIGN) != 0) {
    return Fail(Code::kInvalidArgument, "CA certificate keyUsage lacks keyCertSign");
  }
  if (crt->subject_key_id.len == 0) {
    return Fail(Code::kInvalidArgument,
                "CA certificate has no subjectKeyIdentifier (RFC 5280 4.2.1.2 requires one; "
                "issued certificates' authorityKeyIdentifier copies it)");
  }
  if (auto ok = CheckKeyMatches(*crt, *ca_key); !ok) return std::unexpected(ok.error());
  std::unique_ptr<Issuer> issuer(new Issuer());
  issuer->ca_cert_ = std::move(*cert);
  issuer->ca_key_ = std::move(ca_key);
  return issuer;
}

Result<PreparedCert> Issuer::Prepare(std::string_view device_id,
                                     std::span<const unsigned char> public_key_der,
                                     const Profile& profile, base::UnixTime now, Rng rng) const {
  auto serial = RandomSerial(rng, 16);
  if (!serial) return std::unexpected(serial.error());
  return Build(device_id, public_key_der, profile, now, std::move(*serial));
}

Result<PreparedCert> Issuer::Build(std::string_view device_id,
                                   std::span<const unsigned char> public_key_der,
                                   const Profile& profile, base::UnixTime now,
                                   base::Bytes serial) const {
  if (!IsValidDeviceId(device_id)) return Fail(Code::kPolicy, "invalid device id");
  if (!IsValidScope(profile.identity_scope)) return Fail(Code::kPolicy, "invalid identity scope");
  PkContext device_key;
  if (auto ok = ParseDeviceKey(public_key_der, device_key); !ok) return std::unexpected(ok.error());
  auto validity = ValidityFor(now, profile, ca_cert());
  if (!validity) return std::unexpected(validity.error());

  const std::string scoped =
      profile.identity_scope.empty() ? "" : PercentEncode(profile.identity_scope) + ":";
  const std::string uri = profile.san_uri_prefix + scoped + PercentEncode(device_id);
  CertSpec spec;
  spec.subject_dn = SubjectFor(device_id, profile);
  spec.serial = std::move(serial);
  spec.not_before = validity->not_before;
  spec.not_after = validity->not_after;
  spec.is_ca = false;
  spec.key_usage = MBEDTLS_X509_KU_DIGITAL_SIGNATURE;
  spec.ext_key_usage = {Eku::kClientAuth};
  spec.uris = {uri};
  spec.crl_urls = profile.crl_urls;
  // BuildTbs takes the CA certificate only: the CA key is out of reach by construction.
  auto tbs = BuildTbs(spec, *device_key.get(), ca_cert());
  if (!tbs) return std::unexpected(tbs.error());
  auto parsed = ParseTbs(*tbs);
  if (!parsed) return Fail(Code::kCrypto, "built TBS does not parse: " + parsed.error().detail);
  if (auto ok = LintOperational(*(*parsed)->get(), ca_cert(), &profile.crl_urls); !ok) {
    return std::unexpected(ok.error());
  }
  return Describe(*(*parsed)->get(), std::move(*tbs), uri);
}

Result<void> Issuer::CheckPrepared(std::span<const unsigned char> tbs, std::string_view device_id,
                                   std::span<const unsigned char> public_key_der,
                                   const Profile& profile, base::UnixTime now,
                                   base::UnixTime max_age) const {
  auto stored = ParseTbs(tbs);
  if (!stored) return Fail(Code::kPolicy, "structure: " + stored.error().detail);
  const mbedtls_x509_crt& got = *(*stored)->get();
  const base::UnixTime built_at = BuildTimeOf(got, profile, ca_cert());
  auto rebuilt = Build(device_id, public_key_der, profile, built_at,
                       base::Bytes(got.serial.p, got.serial.p + got.serial.len));
  if (!rebuilt) return Fail(Code::kPolicy, "rebuild: " + rebuilt.error().detail);
  if (rebuilt->tbs.size() != tbs.size() ||
      !std::equal(tbs.begin(), tbs.end(), rebuilt->tbs.begin())) {
    auto want = ParseTbs(rebuilt->tbs);
    if (!want) return Fail(Code::kCrypto, "rebuilt TBS does not parse: " + want.error().detail);
    return Fail(Code::kPolicy, FirstDifference(got, *(*want)->get()));
  }
  if (built_at < now - max_age) {
    return Fail(Code::kPolicy, "age: built at " + Iso8601(built_at) + ", more than " +
                                   std::to_string(max_age) + " s before " + Iso8601(now));
  }
  if (built_at > now + kResumeClockSkew) {
    return Fail(Code::kPolicy,
                "age: built at " + Iso8601(built_at) + ", after now " + Iso8601(now));
  }
  return {};
}

Result<void> Issuer::Lint(std::span<const unsigned char> tbs) const {
  auto parsed = ParseTbs(tbs);
  if (!parsed) return Fail(Code::kPolicy, "structure: " + parsed.error().detail);
  return LintOperational(*(*parsed)->get(), ca_cert(), nullptr);
}

Result<IssuedCert> Issuer::Sign(std::span<const unsigned char> tbs, Rng rng) const {
  if (auto ok = Lint(tbs); !ok) return std::unexpected(ok.error());
  auto sig = SignSha256(*ca_key_, tbs, rng);  // kUnavailable (a token out of reach) passes on
  if (!sig) return std::unexpected(sig.error());
  auto der = WrapTbs(tbs, *sig);
  if (!der) return Fail(Code::kCrypto, der.error().detail);
  auto parsed = CheckSigned(*der, tbs, ca_cert());
  if (!parsed) return std::unexpected(parsed.error());
  return DescribeSigned(*(*parsed)->get(), std::move(*der));
}

Result<IssuedCert> Issuer::Issue(std::string_view device_id,
                                 std::span<const unsigned char> public_key_der,
                                 const Profile& profile, base::UnixTime now, Rng rng) const {
  auto prepared = Prepare(device_id, public_key_der, profile, now, rng);
  if (!prepared) return std::unexpected(prepared.error());
  return Sign(prepared->tbs, rng);
}

}  // namespace ca
