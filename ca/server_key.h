// server_key.h — server-side key generation (RFC 7030 §4.4): a fresh P-256 key made by the
// caller's DRBG and handed out once as unencrypted PKCS#8, held only in wiped, undumped memory.
#pragma once

#include <mbedtls/pk.h>

#include <span>

#include "base/secret_buffer.h"
#include "base/types.h"
#include "ca/error.h"
#include "ca/rng.h"

namespace ca {

struct ServerKey {
  base::SecretBuffer pkcs8_der;  // PrivateKeyInfo (RFC 5958 OneAsymmetricKey v1), unencrypted
  base::Bytes public_key_der;    // SubjectPublicKeyInfo: what the certificate certifies
};

// A fresh EC P-256 key from `rng` (the worker's CTR-DRBG, seeded from the OS entropy source).
// The mbedTLS context that held it is freed (mbedTLS zeroes its numbers) before returning; the
// private key then exists only in pkcs8_der. kCrypto if generation or encoding fails.
Result<ServerKey> GenerateServerKey(Rng rng);

// PKCS#8 PrivateKeyInfo of an EC P-256 key: version 0, id-ecPublicKey with namedCurve
// prime256v1, and the SEC1 ECPrivateKey in the OCTET STRING. kInvalidArgument if pk is not a
// P-256 private key, kCrypto if mbedTLS cannot write it. No byte of it passes outside the buffer
// but through mbedTLS's own (zeroed) stack.
Result<base::SecretBuffer> Pkcs8Der(const mbedtls_pk_context& pk);

// Appends the base64 of `data` to `out` in lines of 64 characters, each ended by CRLF (RFC 2045
// allows at most 76), encoding in place so the text exists nowhere else. kInvalidArgument (and
// `out` unchanged) if it does not fit; Base64LinesSize says how much room it needs.
Result<void> AppendBase64Lines(base::SecretBuffer& out, std::span<const unsigned char> data);
size_t Base64LinesSize(size_t n);

}  // namespace ca
