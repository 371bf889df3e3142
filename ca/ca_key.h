// ca_key.h — where a CA signature is computed: the one interface the issuer, the CRL writer and
// init sign through, whether the key is in memory (loaded from ca.key) or in a PKCS#11 token.
#pragma once

#include <memory>
#include <span>
#include <string_view>

#include "base/types.h"
#include "ca/cert.h"
#include "ca/error.h"
#include "ca/keys.h"
#include "ca/rng.h"

namespace ca {

inline constexpr size_t kSha256Bytes = 32;

// A P-256 CA key that signs SHA-256 digests. Not thread-safe: each thread that signs holds its
// own CaKey (a token key holds its own session; a file key caches EC tables in its context).
class CaKey {
 public:
  virtual ~CaKey() = default;
  // The DER SubjectPublicKeyInfo of the key (EC P-256).
  virtual const base::Bytes& PublicKeyDer() const = 0;
  // ECDSA over a SHA-256 digest; the DER Ecdsa-Sig-Value. kUnavailable when the key cannot be
  // reached now (a token removed or failing, a session lost and not yet reopened): try again
  // later. kCrypto for any other signing failure. A caller must still verify what it signed.
  virtual Result<base::Bytes> SignDigest(std::span<const unsigned char, kSha256Bytes> digest,
                                         Rng rng) = 0;
  // "file" or "pkcs11", for logs and metrics.
  virtual const char* Kind() const = 0;
};

// A CaKey over a private key held in memory (ca.key). kUnsupportedKey if it is not EC P-256.
Result<std::unique_ptr<CaKey>> MakeFileCaKey(std::unique_ptr<PrivateKey> key);

// Parses a PEM/DER private key into a file CaKey. kMalformed if it does not parse.
Result<std::unique_ptr<CaKey>> LoadFileCaKey(std::string_view pem_or_der, Rng rng);

// SHA-256 of data signed by key: the DER Ecdsa-Sig-Value. Errors as SignDigest.
Result<base::Bytes> SignSha256(CaKey& key, std::span<const unsigned char> data, Rng rng);

// kInvalidArgument unless cert's public key is key's (compared as SubjectPublicKeyInfo DER).
Result<void> CheckKeyMatches(const mbedtls_x509_crt& cert, const CaKey& key);

// A key's public half as an mbedTLS context (for SPKI writing and verification).
Result<std::unique_ptr<PkContext>> PublicKeyOf(const CaKey& key);

}  // namespace ca
