// lint.h — (private to ca/) the pre-issuance check of a certificate's contents against the
// operational profile, independent of how the TBSCertificate was built (issuer.h: Issuer::Lint).
#pragma once

#include <mbedtls/x509_crt.h>

#include <string>
#include <vector>

#include "ca/error.h"

namespace ca {

// Checks crt (typically ParseTbs's result; its signature is not looked at) against the profile of
// an operational certificate issued by ca. Success means every rule holds. kPolicy on the first
// rule that fails, the detail starting with the rule's name ("basicConstraints: ...").
//
// The rules, in order:
//   version          v3
//   serial           INTEGER, positive, minimally encoded, 1..20 octets
//   signature        ecdsa-with-SHA256
//   issuer           byte-identical to ca's subject
//   validity         notBefore < notAfter, both within ca's validity
//   basicConstraints present, critical, cA FALSE
//   keyUsage         present, critical, digitalSignature, neither keyCertSign nor cRLSign
//   extKeyUsage      present, exactly { clientAuth }
//   subjectAltName   present
//   subjectKeyId     present
//   authorityKeyId   keyIdentifier equal to ca's subjectKeyIdentifier
//   subjectPublicKey EC P-256
//   cRLDistributionPoints  non-critical, well formed (ca/cdp.h); with want_crl_urls, present with
//                    exactly those URLs in that order (absent if want_crl_urls is empty); without
//                    (nullptr: a TBS about to be signed, whatever profile built it), optional
Result<void> LintOperational(const mbedtls_x509_crt& crt, const mbedtls_x509_crt& ca,
                             const std::vector<std::string>* want_crl_urls);

}  // namespace ca
