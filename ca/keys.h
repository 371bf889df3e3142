// keys.h — private keys (P-256) and public-key helpers.
#pragma once

#include <mbedtls/pk.h>

#include <memory>
#include <string>
#include <string_view>

#include "base/scoped.h"
#include "base/types.h"
#include "ca/error.h"
#include "ca/rng.h"

namespace ca {

using PkContext = base::Scoped<mbedtls_pk_context, mbedtls_pk_init, mbedtls_pk_free>;

// Owns an mbedtls_pk_context. Not thread-safe (mbedTLS caches EC tables inside the context):
// each thread that signs loads its own copy.
class PrivateKey {
 public:
  // A fresh EC P-256 key. kCrypto on RNG failure.
  static Result<std::unique_ptr<PrivateKey>> GenerateP256(Rng rng);
  // Parses an unencrypted PEM or DER private key (PKCS#8 or SEC1). kMalformed if it does not parse.
  static Result<std::unique_ptr<PrivateKey>> Parse(std::string_view pem_or_der, Rng rng);

  // PEM "EC PRIVATE KEY" text. The caller must write it with mode 0600 and never log it.
  Result<std::string> ToPem() const;
  // DER SubjectPublicKeyInfo of the public half.
  Result<base::Bytes> PublicKeyDer() const;

  mbedtls_pk_context* pk() { return pk_.get(); }
  const mbedtls_pk_context* pk() const { return pk_.get(); }

 private:
  PrivateKey() = default;
  base::Scoped<mbedtls_pk_context, mbedtls_pk_init, mbedtls_pk_free> pk_;
};

// DER SubjectPublicKeyInfo of any pk context (public or private). kCrypto on failure.
Result<base::Bytes> PublicKeyDer(const mbedtls_pk_context& pk);

// "EC P-256", "EC P-384", "EC secp256k1", "RSA 2048", ... for error messages.
std::string DescribeKey(const mbedtls_pk_context& pk);

// True iff pk is an EC key on secp256r1.
bool IsP256(const mbedtls_pk_context& pk);

}  // namespace ca
