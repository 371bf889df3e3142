// issuer.h — the operational-certificate profile: turns a checked CSR key + device id into a
// signed certificate. Holds the issuing CA's certificate and key.
//
// Issuance in two steps, so the store can record what will be signed before anything is signed:
//   Prepare(...)  -> PreparedCert{tbs, serial, ...}   builds + lints the TBS; no CA key involved
//   (caller commits an intent row: serial + tbs)
//   Sign(tbs)     -> IssuedCert{der, ...}             lints again, signs, re-parses, verifies
// Issue() is Prepare + Sign for callers that record only the result.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "base/types.h"
#include "ca/ca_key.h"
#include "ca/cert.h"
#include "ca/error.h"
#include "ca/keys.h"
#include "ca/rng.h"

namespace ca {

struct Profile {
  std::string organization;          // O=, omitted when empty
  std::string organizational_unit;   // OU=, omitted when empty
  base::UnixTime validity_seconds = 90 * 86400;
  base::UnixTime backdate_seconds = 300;  // notBefore = now - backdate (device clock skew)
  // SAN URI = prefix + percent-encoded device id (RFC 3986 unreserved kept as is).
  std::string san_uri_prefix = "urn:provisiond:device:";
  // The namespace the device id is unique in (1..64 lowercase hex digits; empty = global). When
  // set, the subject gets dnQualifier=<scope> after CN/O/OU and the SAN URI becomes
  // prefix + scope + ":" + percent-encoded device id.
  std::string identity_scope;
  // cRLDistributionPoints URLs written into every certificate (http://..., ca/cdp.h; --crl-url);
  // empty = no extension. The lint checks a built TBS carries exactly these.
  std::vector<std::string> crl_urls;
};

// Everything the store records about an issued certificate (Sign fills it from the parse that
// verified der, so no caller parses the certificate again).
struct IssuedCert {
  base::Bytes der;
  std::string serial_hex;          // lowercase hex, 32 characters for the 16-byte serial
  std::string subject;             // as mbedTLS prints the issued subject
  std::string san;                 // "URI:urn:provisiond:device:dev-1"
  base::UnixTime not_before = 0;
  base::UnixTime not_after = 0;    // clamped to the CA's notAfter
  std::string fingerprint_sha256;  // of der, lowercase hex
  std::string public_key_sha256;   // of the SubjectPublicKeyInfo DER, lowercase hex
};

// An operational certificate before signing: everything IssuedCert has but der and fingerprint.
struct PreparedCert {
  base::Bytes tbs;                 // DER TBSCertificate, signature algorithm ecdsa-with-SHA256
  std::string serial_hex;          // as in IssuedCert
  std::string subject;
  std::string san;
  base::UnixTime not_before = 0;
  base::UnixTime not_after = 0;
  std::string public_key_sha256;
};

class Issuer {
 public:
  // Loads the issuing CA. kMalformed if either does not parse, kInvalidArgument if the key does
  // not match the certificate, the certificate is not a CA (basicConstraints cA, keyCertSign) or
  // it has no subjectKeyIdentifier (RFC 5280 4.2.1.2 requires one; issued AKIs copy it, which is
  // what lets Prepare build the TBS without the key). provisiond's own CAs always have one.
  static Result<std::unique_ptr<Issuer>> Load(std::string_view ca_cert_pem,
                                              std::string_view ca_key_pem, Rng rng);
  // The same with the key already loaded (a file key or a token key: ca_key.h). The key is
  // checked against the certificate by public key. Errors as above.
  static Result<std::unique_ptr<Issuer>> Load(std::string_view ca_cert_pem,
                                              std::unique_ptr<CaKey> ca_key);

  // Builds the TBSCertificate of the operational certificate and lints it (see Lint): v3,
  // 16-byte random positive serial, subject CN=<device_id>[,O=][,OU=], SAN URI,
  // basicConstraints CA:FALSE critical, keyUsage digitalSignature critical, EKU clientAuth, SKI,
  // AKI = the CA's SKI, validity per profile clamped to the CA's. public_key_der is a
  // SubjectPublicKeyInfo (EC P-256, else kUnsupportedKey; kMalformed if it does not parse).
  // kPolicy for an invalid device id or identity_scope, an expired CA, or a failed lint. Never uses the CA private
  // key (the TBS builder, ca/tbs.h, has no parameter to receive one); rng is used only for the
  // serial. Not thread-safe: one Issuer per thread.
  Result<PreparedCert> Prepare(std::string_view device_id,
                               std::span<const unsigned char> public_key_der,
                               const Profile& profile, base::UnixTime now, Rng rng) const;

  // Whether a stored TBS (an intent's, about to be resumed) is exactly what Prepare builds for
  // this device_id, public_key_der and profile, with the TBS's own serial, at a moment t no
  // earlier than now - max_age and no later than now + kResumeClockSkew. t is read back from the
  // TBS's validity (notBefore + backdate, or notAfter - validity when notBefore was clamped to the
  // CA's); the TBS is then rebuilt from (device_id, key, profile, serial, t) and compared byte
  // for byte, so another subject, SAN, key, validity, issuer or extension is refused whoever
  // wrote it. kPolicy naming the first field that differs ("subject: ...", "validity: ...") or
  // the age ("age: ..."); "structure: ..." if tbs does not parse. Uses no clock and no CA key.
  Result<void> CheckPrepared(std::span<const unsigned char> tbs, std::string_view device_id,
                             std::span<const unsigned char> public_key_der, const Profile& profile,
                             base::UnixTime now, base::UnixTime max_age) const;

  // Signs a TBSCertificate with the CA key (ECDSA over SHA-256) and returns the Certificate DER
  // (SEQUENCE { tbs, AlgorithmIdentifier ecdsa-with-SHA256 (no parameters), BIT STRING sig })
  // with its description (IssuedCert), read from the parse that verified it.
  // Before signing, tbs must pass Lint (kPolicy otherwise, nothing signed): the CA key signs only
  // operational certificates of this CA. After signing, the result is parsed back with mbedTLS;
  // kCrypto if it does not parse, its TBS bytes differ from tbs, or its signature does not verify
  // under the CA certificate's public key (a signing fault: the certificate must not be used).
  // kUnavailable from a CA key out of reach (a token): nothing was signed, try again later.
  // Not thread-safe (signing caches EC tables in the key; a token key holds one session).
  Result<IssuedCert> Sign(std::span<const unsigned char> tbs, Rng rng) const;

  // Pre-issuance check of a TBSCertificate against the operational profile of this CA, however it
  // was built; the rules are listed in ca/lint.h (v3; serial positive, 1..20 octets;
  // ecdsa-with-SHA256; issuer == CA subject bytes; validity within the CA's and notBefore <
  // notAfter; basicConstraints critical cA FALSE; keyUsage critical digitalSignature without
  // keyCertSign/cRLSign; EKU exactly clientAuth; SAN; SKI; AKI == CA SKI; EC P-256 key).
  // kPolicy naming the first rule that fails ("structure: ..." if tbs does not parse).
  Result<void> Lint(std::span<const unsigned char> tbs) const;

  // Prepare + Sign, for callers that record only the issued certificate. Errors as theirs.
  Result<IssuedCert> Issue(std::string_view device_id,
                           std::span<const unsigned char> public_key_der, const Profile& profile,
                           base::UnixTime now, Rng rng) const;

  // How far in the future CheckPrepared accepts a TBS's build time: the clock may have been
  // stepped back between an interrupted attempt and its retry.
  static constexpr base::UnixTime kResumeClockSkew = 300;

  const mbedtls_x509_crt& ca_cert() const { return *ca_cert_->get(); }
  base::Bytes ca_cert_der() const { return CertDer(*ca_cert_->get()); }

 private:
  Issuer() = default;
  // Prepare with a given serial (the body of Prepare and of CheckPrepared's rebuild).
  Result<PreparedCert> Build(std::string_view device_id,
                             std::span<const unsigned char> public_key_der, const Profile& profile,
                             base::UnixTime now, base::Bytes serial) const;
  std::unique_ptr<CrtChain> ca_cert_;
  std::unique_ptr<CaKey> ca_key_;
};

}  // namespace ca
