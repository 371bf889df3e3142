// crl.cc — CrlSpec -> signed CertificateList DER with mbedTLS's backwards ASN.1 writer: checks
// first (so writing can only fail on a mis-sized buffer), then TBSCertList, hash, sign, wrap.
#include "ca/crl.h"

#include <mbedtls/asn1write.h>
#include <mbedtls/oid.h>
#include <mbedtls/sha256.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <span>
#include <string>

#include "ca/ca_key.h"
#include "ca/civil_time.h"
#include "ca/encoding.h"

namespace ca {
namespace {

constexpr unsigned char kSequence = MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE;
constexpr unsigned char kContext0 = MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 0;
// id-ce-cRLReasons OBJECT IDENTIFIER ::= { id-ce 21 }; mbedTLS's oid.h has no name for it.
constexpr char kOidCrlReason[] = MBEDTLS_OID_ID_CE "\x15";
constexpr size_t kMaxIntegerOctets = 20;  // RFC 5280 §4.1.2.2 and §5.2.3
constexpr size_t kMaxSkiOctets = 64;
// An entry is at most 55 bytes: SEQUENCE header 2 + INTEGER 22 + GeneralizedTime 17 + entry
// extensions 14 (SEQUENCE 2, Extension SEQUENCE 2, OID 5, OCTET STRING 2, ENUMERATED 3).
constexpr size_t kBytesPerEntry = 64;
constexpr size_t kFixedBytes = 1024;  // everything but the issuer name, the SKI and the entries

// Backwards DER writer over a buffer sized up front. Each call returns the bytes it wrote in front
// of the current position; the first mbedTLS error sticks and Finish reports it.
class DerWriter {
 public:
  explicit DerWriter(size_t capacity) : buf_(capacity), p_(buf_.data() + buf_.size()) {}

  size_t Raw(std::span<const unsigned char> bytes) {
    return Check(mbedtls_asn1_write_raw_buffer(&p_, buf_.data(), bytes.data(), bytes.size()));
  }
  // Puts a tag and length in front of the `len` bytes just written; returns the new total.
  size_t Wrap(size_t len, unsigned char tag) {
    len += Check(mbedtls_asn1_write_len(&p_, buf_.data(), len));
    return len + Check(mbedtls_asn1_write_tag(&p_, buf_.data(), tag));
  }
  // An INTEGER from contents already checked to be minimal DER (serials, the CRL number).
  size_t Integer(std::span<const unsigned char> contents) {
    return Wrap(Raw(contents), MBEDTLS_ASN1_INTEGER);
  }
  size_t SmallInteger(int value) { return Check(mbedtls_asn1_write_int(&p_, buf_.data(), value)); }
  size_t Enumerated(int value) { return Check(mbedtls_asn1_write_enum(&p_, buf_.data(), value)); }
  size_t Oid(const char* oid, size_t oid_len) {
    return Check(mbedtls_asn1_write_oid(&p_, buf_.data(), oid, oid_len));
  }
  size_t Text(int tag, const std::string& text) {
    return Check(mbedtls_asn1_write_tagged_string(&p_, buf_.data(), tag, text.data(), text.size()));
  }
  // AlgorithmIdentifier{ecdsa-with-SHA256}: parameters absent (RFC 5758 §3.2).
  size_t EcdsaSha256() {
    return Check(mbedtls_asn1_write_algorithm_identifier_ext(
        &p_, buf_.data(), MBEDTLS_OID_ECDSA_SHA256, MBEDTLS_OID_SIZE(MBEDTLS_OID_ECDSA_SHA256), 0,
        0));
  }
  size_t BitString(std::span<const unsigned char> bytes) {
    return Check(mbedtls_asn1_write_bitstring(&p_, buf_.data(), bytes.data(), bytes.size() * 8));
  }
  // A non-critical Extension whose extnValue contents (`value_len` bytes) were just written.
  size_t Extension(const char* oid, size_t oid_len, size_t value_len) {
    size_t len = Wrap(value_len, MBEDTLS_ASN1_OCTET_STRING);
    len += Oid(oid, oid_len);  // critical DEFAULT FALSE: omitted in DER
    return Wrap(len, kSequence);
  }

  // The bytes written so far, or kCrypto naming `what` if any write failed.
  Result<base::Bytes> Finish(const char* what) const {
    if (error_ != 0) return Fail(Code::kCrypto, MbedtlsError(what, error_));
    return base::Bytes(static_cast<const unsigned char*>(p_), buf_.data() + buf_.size());
  }

 private:
  size_t Check(int ret) {
    if (ret < 0) {
      if (error_ == 0) error_ = ret;
      return 0;
    }
    return static_cast<size_t>(ret);
  }

  base::Bytes buf_;
  unsigned char* p_;
  int error_ = 0;
};

// 1950-01-01T00:00:00Z and 9999-12-31T23:59:59Z: what UTCTime/GeneralizedTime can carry.
bool IsEncodableTime(base::UnixTime t) { return t >= -631152000 && t <= 253402300799; }

// RFC 5280 §4.1.2.5.1/.2: UTCTime YYMMDDHHMMSSZ through 2049, GeneralizedTime from 2050.
size_t WriteTime(DerWriter& w, base::UnixTime t) {
  const CivilTime c = ToCivil(t);
  const bool utc = c.year < 2050;
  char buf[24];
  std::snprintf(buf, sizeof(buf),
                utc ? "%02lld%02u%02u%02u%02u%02uZ" : "%04lld%02u%02u%02u%02u%02uZ",
                static_cast<long long>(utc ? c.year % 100 : c.year), c.month, c.day, c.hour,
                c.minute, c.second);
  return w.Text(utc ? MBEDTLS_ASN1_UTC_TIME : MBEDTLS_ASN1_GENERALIZED_TIME, buf);
}

// Positive, minimally encoded DER INTEGER contents of at most kMaxIntegerOctets octets.
bool IsPositiveDerInteger(const base::Bytes& v) {
  if (v.empty() || v.size() > kMaxIntegerOctets) return false;
  if (v[0] & 0x80) return false;                                         // negative
  if (v[0] == 0 && (v.size() == 1 || (v[1] & 0x80) == 0)) return false;  // zero or padded
  return true;
}

bool IsCrlReason(int reason) {
  return reason >= 0 && reason <= 10 && reason != 7 && reason != kReasonRemoveFromCrl;
}

Result<void> CheckEntries(const std::vector<RevokedEntry>& revoked) {
  if (revoked.size() > kMaxCrlEntries) {
    return Fail(Code::kInvalidArgument, "CRL: " + std::to_string(revoked.size()) +
                                            " entries, at most " + std::to_string(kMaxCrlEntries));
  }
  for (const RevokedEntry& e : revoked) {
    if (!IsPositiveDerInteger(e.serial)) {
      return Fail(Code::kInvalidArgument,
                  "CRL entry serial must be a positive minimal INTEGER of "
                  "1..20 octets: '" +
                      HexLower(e.serial) + "'");
    }
    if (!IsCrlReason(e.reason)) {
      return Fail(Code::kInvalidArgument, "CRL entry " + HexLower(e.serial) + ": reason " +
                                              std::to_string(e.reason) + " not allowed");
    }
    if (!IsEncodableTime(e.revocation_date)) {
      return Fail(Code::kInvalidArgument,
                  "CRL entry " + HexLower(e.serial) + ": revocation date out of range");
    }
  }
  std::vector<const base::Bytes*> serials;
  serials.reserve(revoked.size());
  for (const RevokedEntry& e : revoked) serials.push_back(&e.serial);
  std::sort(serials.begin(), serials.end(),
            [](const base::Bytes* a, const base::Bytes* b) { return *a < *b; });
  auto dup =
      std::adjacent_find(serials.begin(), serials.end(),
                         [](const base::Bytes* a, const base::Bytes* b) { return *a == *b; });
  if (dup != serials.end())
    return Fail(Code::kInvalidArgument, "CRL: serial " + HexLower(**dup) + " listed twice");
  return {};
}

Result<void> CheckSpec(const CrlSpec& spec) {
  if (!IsEncodableTime(spec.this_update) || !IsEncodableTime(spec.next_update)) {
    return Fail(Code::kInvalidArgument, "CRL: thisUpdate/nextUpdate outside the years 1950..9999");
  }
  if (spec.next_update <= spec.this_update)
    return Fail(Code::kInvalidArgument, "CRL: nextUpdate must be after thisUpdate");
  if (!IsPositiveDerInteger(spec.crl_number)) {
    return Fail(Code::kInvalidArgument,
                "CRL number must be a positive minimal INTEGER of 1..20 octets");
  }
  return CheckEntries(spec.revoked);
}

// A CA whose CRLs verifiers will accept: EC key matching the certificate, an SKI for the AKI
// (RFC 5280 §5.2.1 requires the keyIdentifier form) and cRLSign if keyUsage is present.
Result<void> CheckCa(const mbedtls_x509_crt& ca_cert, const CaKey& ca_key) {
  if (!mbedtls_pk_can_do(&ca_cert.pk, MBEDTLS_PK_ECDSA))
    return Fail(Code::kUnsupportedKey, "CRL signing key is not an EC key");
  if (auto ok = CheckKeyMatches(ca_cert, ca_key); !ok) {
    return Fail(Code::kInvalidArgument, "CRL: " + ok.error().detail);
  }
  if (ca_cert.subject_key_id.len == 0 || ca_cert.subject_key_id.len > kMaxSkiOctets)
    return Fail(Code::kInvalidArgument, "CRL: CA certificate has no usable subjectKeyIdentifier");
  if (mbedtls_x509_crt_check_key_usage(&ca_cert, MBEDTLS_X509_KU_CRL_SIGN) != 0)
    return Fail(Code::kInvalidArgument, "CRL: CA certificate keyUsage lacks cRLSign");
  if (ca_cert.subject_raw.len == 0)
    return Fail(Code::kInvalidArgument, "CRL: CA certificate has no subject");
  return {};
}

// crlExtensions [0] EXPLICIT Extensions: authorityKeyIdentifier, then cRLNumber.
size_t WriteCrlExtensions(DerWriter& w, const CrlSpec& spec, const mbedtls_x509_buf& ski) {
  size_t len = w.Extension(MBEDTLS_OID_CRL_NUMBER, MBEDTLS_OID_SIZE(MBEDTLS_OID_CRL_NUMBER),
                           w.Integer(spec.crl_number));
  // AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING }
  size_t aki = w.Wrap(w.Raw({ski.p, ski.len}), MBEDTLS_ASN1_CONTEXT_SPECIFIC | 0);
  aki = w.Wrap(aki, kSequence);
  len += w.Extension(MBEDTLS_OID_AUTHORITY_KEY_IDENTIFIER,
                     MBEDTLS_OID_SIZE(MBEDTLS_OID_AUTHORITY_KEY_IDENTIFIER), aki);
  return w.Wrap(w.Wrap(len, kSequence), kContext0);
}

// revokedCertificates, or nothing at all for an empty list (RFC 5280 §5.1.2.6: MUST be absent).
size_t WriteRevoked(DerWriter& w, const std::vector<RevokedEntry>& revoked) {
  size_t total = 0;
  for (size_t i = revoked.size(); i-- > 0;) {  // backwards writer: last entry first
    const RevokedEntry& e = revoked[i];
    size_t len = 0;
    if (e.reason != kReasonUnspecified) {
      const size_t value = w.Enumerated(e.reason);
      len = w.Wrap(w.Extension(kOidCrlReason, sizeof(kOidCrlReason) - 1, value), kSequence);
    }
    len += WriteTime(w, e.revocation_date);
    len += w.Integer(e.serial);
    total += w.Wrap(len, kSequence);
  }
  return revoked.empty() ? 0 : w.Wrap(total, kSequence);
}

Result<base::Bytes> WriteTbs(const CrlSpec& spec, const mbedtls_x509_crt& ca_cert) {
  const mbedtls_x509_buf& issuer = ca_cert.subject_raw;
  DerWriter w(kFixedBytes + issuer.len + ca_cert.subject_key_id.len +
              kBytesPerEntry * spec.revoked.size());
  size_t len = WriteCrlExtensions(w, spec, ca_cert.subject_key_id);
  len += WriteRevoked(w, spec.revoked);
  len += WriteTime(w, spec.next_update);
  len += WriteTime(w, spec.this_update);
  len += w.Raw({issuer.p, issuer.len});
  len += w.EcdsaSha256();
  len += w.SmallInteger(1);  // Version v2
  w.Wrap(len, kSequence);
  return w.Finish("CRL: writing TBSCertList");
}

// CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm, signatureValue BIT STRING }.
// The signature is verified under the certificate's key before the CRL is returned.
Result<base::Bytes> SignTbs(const base::Bytes& tbs, const mbedtls_x509_crt& ca_cert,
                            CaKey& ca_key, Rng rng) {
  auto sig = SignSha256(ca_key, tbs, rng);  // kUnavailable (a token out of reach) passes on
  if (!sig) return std::unexpected(sig.error());
  unsigned char hash[32];
  int ret = mbedtls_sha256(tbs.data(), tbs.size(), hash, 0);
  if (ret != 0) return Fail(Code::kCrypto, MbedtlsError("mbedtls_sha256", ret));
  // mbedtls_pk_verify takes a non-const context but only reads a public key.
  ret = mbedtls_pk_verify(const_cast<mbedtls_pk_context*>(&ca_cert.pk), MBEDTLS_MD_SHA256, hash,
                          sizeof(hash), sig->data(), sig->size());
  if (ret != 0) {
    return Fail(Code::kCrypto, "CRL signature does not verify under the CA certificate: " +
                                   MbedtlsError("mbedtls_pk_verify", ret));
  }
  DerWriter w(tbs.size() + sig->size() + 64);
  size_t len = w.BitString(*sig);  // the DER Ecdsa-Sig-Value
  len += w.EcdsaSha256();
  len += w.Raw(tbs);
  w.Wrap(len, kSequence);
  return w.Finish("CRL: writing CertificateList");
}

constexpr std::array<const char*, 11> kReasonNames = {
    "unspecified",   "keyCompromise",        "cACompromise",    "affiliationChanged",
    "superseded",    "cessationOfOperation", "certificateHold", nullptr,  // 7 is not used
    "removeFromCRL", "privilegeWithdrawn",   "aACompromise"};

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [&](char x, char y) { return lower(x) == lower(y); });
}

}  // namespace

Result<base::Bytes> SignCrl(const CrlSpec& spec, const mbedtls_x509_crt& ca_cert,
                            CaKey& ca_key, Rng rng) {
  if (auto ok = CheckSpec(spec); !ok) return std::unexpected(ok.error());
  if (auto ok = CheckCa(ca_cert, ca_key); !ok) return std::unexpected(ok.error());
  auto tbs = WriteTbs(spec, ca_cert);
  if (!tbs) return tbs;
  return SignTbs(*tbs, ca_cert, ca_key, rng);
}

std::optional<int> RevocationReasonCode(std::string_view name) {
  for (size_t code = 0; code < kReasonNames.size(); ++code) {
    if (kReasonNames[code] != nullptr && EqualsIgnoreCase(name, kReasonNames[code]))
      return static_cast<int>(code);
  }
  return std::nullopt;
}

const char* RevocationReasonName(int code) {
  if (code < 0 || static_cast<size_t>(code) >= kReasonNames.size()) return nullptr;
  return kReasonNames[static_cast<size_t>(code)];
}

}  // namespace ca
