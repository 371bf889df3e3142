// pkcs7.h — the "certs-only" degenerate PKCS#7/CMS SignedData EST uses (RFC 7030 §4.1.3, §4.2.3;
// RFC 5652): no content, no signers, just a SET of certificates. mbedTLS has no writer for it.
#pragma once

#include <span>
#include <vector>

#include "base/types.h"
#include "ca/error.h"

namespace ca {

// ContentInfo{signedData, SignedData{v1, {}, {data}, certificates [0] {certs...}, {}}} in DER.
base::Bytes CertsOnlyPkcs7(std::span<const base::Bytes> certs_der);

// The certificates (DER) inside a certs-only PKCS#7. kMalformed if the structure is not one.
// At most 16 certificates; bounded by the input size.
Result<std::vector<base::Bytes>> ParseCertsOnlyPkcs7(std::span<const unsigned char> der);

}  // namespace ca
