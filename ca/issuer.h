// issuer.h — the operational-certificate profile: turns a checked CSR key + device id into a
// signed certificate. Holds the issuing CA's certificate and key.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "ca/cert.h"
#include "ca/error.h"
#include "ca/keys.h"
#include "ca/rng.h"
#include "ca/types.h"

namespace ca {

struct Profile {
  std::string organization;          // O=, omitted when empty
  std::string organizational_unit;   // OU=, omitted when empty
  UnixTime validity_seconds = 90 * 86400;
  UnixTime backdate_seconds = 300;   // notBefore = now - backdate (device clock skew)
  // SAN URI = prefix + percent-encoded device id (RFC 3986 unreserved kept as is).
  std::string san_uri_prefix = "urn:provisiond:device:";
};

// Everything the store records about an issued certificate.
struct IssuedCert {
  Bytes der;
  std::string serial_hex;          // lowercase hex, 32 characters for the 16-byte serial
  std::string subject;             // as mbedTLS prints the issued subject
  std::string san;                 // "URI:urn:provisiond:device:dev-1"
  UnixTime not_before = 0;
  UnixTime not_after = 0;          // clamped to the CA's notAfter
  std::string fingerprint_sha256;  // of der, lowercase hex
  std::string public_key_sha256;   // of the SubjectPublicKeyInfo DER, lowercase hex
};

class Issuer {
 public:
  // Loads the issuing CA. kMalformed if either does not parse, kInvalidArgument if the key does
  // not match the certificate or the certificate is not a CA.
  static Result<std::unique_ptr<Issuer>> Load(std::string_view ca_cert_pem,
                                              std::string_view ca_key_pem, Rng rng);

  // Issues the operational certificate: v3, 16-byte random positive serial, subject
  // CN=<device_id>[,O=][,OU=], SAN URI, basicConstraints CA:FALSE critical, keyUsage
  // digitalSignature critical, EKU clientAuth, SKI, AKI, validity per profile. public_key_der is
  // a SubjectPublicKeyInfo (EC P-256, else kUnsupportedKey). kPolicy for an invalid device id.
  // Not thread-safe: one Issuer per thread.
  Result<IssuedCert> Issue(std::string_view device_id, std::span<const unsigned char> public_key_der,
                           const Profile& profile, UnixTime now, Rng rng) const;

  const mbedtls_x509_crt& ca_cert() const { return *ca_cert_->get(); }
  Bytes ca_cert_der() const { return CertDer(*ca_cert_->get()); }

 private:
  Issuer() = default;
  std::unique_ptr<CrtChain> ca_cert_;
  std::unique_ptr<PrivateKey> ca_key_;
};

}  // namespace ca
