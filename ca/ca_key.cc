// ca_key.cc — the file CA key (a P-256 private key in memory) and the helpers every CaKey user
// shares: hash-and-sign, the key-matches-certificate check, the public half as an mbedTLS context.
#include "ca/ca_key.h"

#include <mbedtls/sha256.h>

namespace ca {
namespace {

class FileCaKey final : public CaKey {
 public:
  FileCaKey(std::unique_ptr<PrivateKey> key, base::Bytes public_der)
      : key_(std::move(key)), public_der_(std::move(public_der)) {}

  const base::Bytes& PublicKeyDer() const override { return public_der_; }

  Result<base::Bytes> SignDigest(std::span<const unsigned char, kSha256Bytes> digest,
                                 Rng rng) override {
    unsigned char sig[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
    size_t sig_len = 0;
    int ret = mbedtls_pk_sign(key_->pk(), MBEDTLS_MD_SHA256, digest.data(), digest.size(), sig,
                              sizeof(sig), &sig_len, rng.fill, rng.state);
    if (ret != 0) return Fail(Code::kCrypto, MbedtlsError("mbedtls_pk_sign", ret));
    return base::Bytes(sig, sig + sig_len);
  }

  const char* Kind() const override { return "file"; }

 private:
  std::unique_ptr<PrivateKey> key_;
  base::Bytes public_der_;
};

}  // namespace

Result<std::unique_ptr<CaKey>> MakeFileCaKey(std::unique_ptr<PrivateKey> key) {
  if (!IsP256(*key->pk())) {
    return Fail(Code::kUnsupportedKey, "CA key is " + DescribeKey(*key->pk()) + ", want EC P-256");
  }
  auto der = key->PublicKeyDer();
  if (!der) return std::unexpected(der.error());
  return std::make_unique<FileCaKey>(std::move(key), std::move(*der));
}

Result<std::unique_ptr<CaKey>> LoadFileCaKey(std::string_view pem_or_der, Rng rng) {
  auto key = PrivateKey::Parse(pem_or_der, rng);
  if (!key) return std::unexpected(key.error());
  // The public point stored beside the private scalar must be the scalar's: the match with the
  // certificate below compares public halves only.
  int ret = mbedtls_pk_check_pair((*key)->pk(), (*key)->pk(), rng.fill, rng.state);
  if (ret != 0) {
    return Fail(Code::kInvalidArgument,
                "CA key is inconsistent: " + MbedtlsError("mbedtls_pk_check_pair", ret));
  }
  return MakeFileCaKey(std::move(*key));
}

Result<base::Bytes> SignSha256(CaKey& key, std::span<const unsigned char> data, Rng rng) {
  std::array<unsigned char, kSha256Bytes> hash{};
  int ret = mbedtls_sha256(data.data(), data.size(), hash.data(), /*is224=*/0);
  if (ret != 0) return Fail(Code::kCrypto, MbedtlsError("mbedtls_sha256", ret));
  return key.SignDigest(hash, rng);
}

Result<void> CheckKeyMatches(const mbedtls_x509_crt& cert, const CaKey& key) {
  auto cert_der = ca::PublicKeyDer(cert.pk);
  if (!cert_der) return std::unexpected(cert_der.error());
  if (*cert_der != key.PublicKeyDer()) {
    return Fail(Code::kInvalidArgument, std::string("CA key (") + key.Kind() +
                                            ") does not match the CA certificate's public key");
  }
  return {};
}

Result<std::unique_ptr<PkContext>> PublicKeyOf(const CaKey& key) {
  auto pk = std::make_unique<PkContext>();
  const base::Bytes& der = key.PublicKeyDer();
  int ret = mbedtls_pk_parse_public_key(pk->get(), der.data(), der.size());
  if (ret != 0) return Fail(Code::kMalformed, MbedtlsError("mbedtls_pk_parse_public_key", ret));
  if (!IsP256(*pk->get())) {
    return Fail(Code::kUnsupportedKey, "CA key is " + DescribeKey(*pk->get()) + ", want EC P-256");
  }
  return pk;
}

}  // namespace ca
