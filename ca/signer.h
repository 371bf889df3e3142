// signer.h — writes and signs X.509 v3 certificates (ecdsa-with-SHA256). The one place in the
// project that calls mbedtls_x509write_crt: CA creation, server certificates, device-sim's test
// PKI and the operational profile (issuer.h) all describe what they want as a CertSpec.
#pragma once

#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include <optional>
#include <string>
#include <vector>

#include "base/types.h"
#include "ca/error.h"
#include "ca/rng.h"

namespace ca {

enum class Eku { kServerAuth, kClientAuth };

struct CertSpec {
  // mbedTLS string form, e.g. "CN=dev-1,O=Acme". Values must be escaped with EscapeDnValue.
  std::string subject_dn;
  base::Bytes serial;  // 1..20 bytes, big-endian, first byte in 0x01..0x7F (positive, minimal DER)
  base::UnixTime not_before = 0;
  base::UnixTime not_after = 0;
  bool is_ca = false;           // basicConstraints cA (always written, critical)
  int max_path_len = -1;        // with is_ca: pathLenConstraint, -1 = absent
  unsigned key_usage = 0;       // MBEDTLS_X509_KU_* bits, written critical; 0 = no extension
  std::vector<Eku> ext_key_usage;  // empty = no extension
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;  // textual IPv4 or IPv6
  std::vector<std::string> uris;
  // cRLDistributionPoints (non-critical, one point naming every URL; ca/cdp.h); empty = none.
  std::vector<std::string> crl_urls;
};

// Escapes a value for CertSpec::subject_dn (backslash before , = + < > # ; " \ and a leading
// space or trailing space).
std::string EscapeDnValue(std::string_view value);

// Signs a certificate for subject_key (only its public half is used). issuer_cert == nullptr
// means self-signed: issuer name = subject, and AKI = SKI. Always writes SKI and AKI. Returns DER.
// kInvalidArgument for a bad spec (serial, times, IP text), kCrypto if writing/signing fails.
Result<base::Bytes> SignCertificate(const CertSpec& spec, const mbedtls_pk_context& subject_key,
                                    const mbedtls_x509_crt* issuer_cert,
                                    const mbedtls_pk_context& issuer_key, Rng rng);

class CaKey;

// SignCertificate's certificate signed by a CaKey (in a file or a token): the TBS is built without
// any private key (tbs.h, byte for byte what SignCertificate writes), signed by issuer_key and
// verified under the issuer's public key before it is returned. issuer_cert == nullptr means
// self-signed by issuer_key: subject_key is then ignored (the subject key is issuer_key's public
// half). Errors as SignCertificate, and issuer_key's (kUnavailable for a token out of reach).
Result<base::Bytes> SignCertificateWith(const CertSpec& spec, const mbedtls_pk_context* subject_key,
                                        const mbedtls_x509_crt* issuer_cert, CaKey& issuer_key,
                                        Rng rng);

// A random certificate serial: `len` bytes (1..20) from rng, first byte forced into 0x01..0x7F so
// the INTEGER is positive and exactly `len` octets in DER.
Result<base::Bytes> RandomSerial(Rng rng, size_t len = 16);

}  // namespace ca
