// signer_extensions.h — (private to ca/) the X.509 v3 extensions SignCertificate writes.
#pragma once

#include <mbedtls/x509_crt.h>

#include "ca/error.h"
#include "ca/signer.h"

namespace ca {

// Adds basicConstraints (critical), keyUsage (critical, if any bits), extKeyUsage, subjectAltName,
// subjectKeyIdentifier and authorityKeyIdentifier to w. The subject and issuer keys must already
// be set on w. issuer_cert == nullptr means self-signed. kInvalidArgument for bad spec values
// (IP text, key-usage bits), kCrypto if mbedTLS cannot encode.
Result<void> SetExtensions(mbedtls_x509write_cert* w, const CertSpec& spec,
                           const mbedtls_x509_crt* issuer_cert);

}  // namespace ca
