// csr_builder.h — writes the PKCS#10 request a device sends to simpleenroll/simplereenroll.
// (ca/ only checks CSRs; building them is the client's job.)
#pragma once

#include <string_view>

#include "base/types.h"
#include "ca/error.h"
#include "ca/keys.h"
#include "ca/rng.h"

namespace devsim {

// DER PKCS#10 with subject CN=<device_id> (escaped), the public half of `key`, no attributes,
// signed ecdsa-with-SHA256 by `key`. `key` is only used for this call (mbedTLS needs it mutable).
// kInvalidArgument if the subject cannot be encoded, kCrypto if writing or signing fails.
ca::Result<base::Bytes> BuildCsr(std::string_view device_id, ca::PrivateKey& key, ca::Rng rng);

// The same request carrying a PKCS#9 challengePassword attribute (UTF8String): how an EST client
// binds its CSR to the TLS connection (RFC 7030 §3.5, with the RFC 9266 tls-exporter value).
// mbedtls_x509write_csr cannot write attributes, so the CertificationRequestInfo is rebuilt
// around the written subject and key and signed again.
ca::Result<base::Bytes> BuildCsrWithChallenge(std::string_view device_id, ca::PrivateKey& key,
                                              ca::Rng rng, std::string_view challenge_password);

}  // namespace devsim
