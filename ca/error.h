// error.h — the error value returned by every fallible function in ca/ (no exceptions cross the API).
#pragma once

#include <string>

#include "base/error.h"

namespace ca {

// A closed set: callers (the daemon's EST layer) map each code to one fixed HTTP status + reason.
enum class Code {
  kInvalidArgument,   // the caller passed something unusable (a programming or config error)
  kMalformed,         // input bytes do not parse (DER, PEM, base64, PKCS#10, PKCS#7)
  kUnsupportedKey,    // key type/curve not allowed (e.g. RSA, P-384); detail names the key type
  kUnsupportedAlg,    // signature algorithm not allowed (e.g. ecdsa-with-SHA1)
  kBadSignature,      // a signature does not verify (for a CSR: no proof of possession)
  kIdentityMismatch,  // the CSR names a different device than the authenticated one
  kPolicy,            // refused by the certificate profile or identity rules
  kCrypto,            // an mbedTLS operation failed unexpectedly (RNG, signing, writing)
  kUnavailable,       // the CA key cannot be reached now (its token is absent or failing): retry
};

// ca's functions return PKI errors only; files, sockets and the like are base::Error outside ca/.
using Error = base::ErrorOf<Code>;
template <typename T>
using Result = base::Result<T, Error>;
using base::Fail;

// "mbedtls_x509_crt_parse_der: -0x2180 X509 - The CRT/CRL/CSR format is invalid ..." for logs.
std::string MbedtlsError(const char* call, int ret);

const char* CodeName(Code code);

// A PKI failure reported where a general error is returned (a file read, then parsed): the detail
// unchanged; kInternal for kCrypto (nothing the caller passed is at fault), kMalformed for
// kMalformed, else kInvalidArgument.
base::Error ToBaseError(const Error& error);

}  // namespace ca
