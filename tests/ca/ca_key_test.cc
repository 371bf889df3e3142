// ca_key_test.cc — signing through the CaKey seam: a certificate signed through a CaKey is
// SignCertificate's byte for byte but the signature, and a key that is out of reach or signs
// wrongly never yields a certificate or a CRL.
#include "ca/ca_key.h"

#include <doctest/doctest.h>

#include "ca/crl.h"
#include "ca/issuer.h"
#include "ca/signer.h"
#include "tests/ca/test_util.h"

namespace {

using catest::kDay;
using catest::kNow;

// A CaKey whose public half is `shown` while another key (or nothing) signs: a token that fails
// or a fault inside one, as the issuer and the CRL writer must see it.
class OddKey final : public ca::CaKey {
 public:
  OddKey(const ca::PrivateKey& shown, std::unique_ptr<ca::CaKey> signer)
      : public_der_(catest::PublicDer(*shown.pk())), signer_(std::move(signer)) {}
  const base::Bytes& PublicKeyDer() const override { return public_der_; }
  ca::Result<base::Bytes> SignDigest(std::span<const unsigned char, ca::kSha256Bytes> digest,
                                     ca::Rng rng) override {
    if (!signer_) return ca::Fail(ca::Code::kUnavailable, "C_Sign: CKR_DEVICE_REMOVED");
    return signer_->SignDigest(digest, rng);
  }
  const char* Kind() const override { return "test"; }

 private:
  base::Bytes public_der_;
  std::unique_ptr<ca::CaKey> signer_;
};

ca::CertSpec CaSpec(ca::Rng rng) {
  return ca::CertSpec{.subject_dn = "CN=Token Root,O=provisiond tests",
                      .serial = *ca::RandomSerial(rng),
                      .not_before = kNow - kDay,
                      .not_after = kNow + 3650 * kDay,
                      .is_ca = true,
                      .max_path_len = 0,
                      .key_usage = MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN};
}

base::Bytes TbsOf(const base::Bytes& der) {
  auto crt = catest::Parse(der);
  return base::Bytes(crt->get()->tbs.p, crt->get()->tbs.p + crt->get()->tbs.len);
}

TEST_CASE("SignCertificateWith: self-signed and issued certificates are SignCertificate's") {
  auto drbg = catest::MakeDrbg("ca key seam");
  auto key = catest::NewP256(drbg->rng());
  auto ca_key = catest::FileKey(*key, drbg->rng());
  const ca::CertSpec spec = CaSpec(drbg->rng());

  auto direct = ca::SignCertificate(spec, *key->pk(), nullptr, *key->pk(), drbg->rng());
  auto through = ca::SignCertificateWith(spec, nullptr, nullptr, *ca_key, drbg->rng());
  REQUIRE(direct.has_value());
  REQUIRE_MESSAGE(through.has_value(), (through ? "" : through.error().detail));
  CHECK(TbsOf(*through) == TbsOf(*direct));  // issuer = subject, AKI = SKI: a real root
  auto root = catest::Parse(*through);
  CHECK(catest::VerifyAgainst(root->get(), root->get()) == 0);

  auto leaf = catest::NewP256(drbg->rng());
  ca::CertSpec leaf_spec{.subject_dn = "CN=server", .serial = *ca::RandomSerial(drbg->rng()),
                         .not_before = kNow, .not_after = kNow + kDay,
                         .key_usage = MBEDTLS_X509_KU_DIGITAL_SIGNATURE,
                         .ext_key_usage = {ca::Eku::kServerAuth}, .dns_names = {"localhost"}};
  auto leaf_direct =
      ca::SignCertificate(leaf_spec, *leaf->pk(), root->get(), *key->pk(), drbg->rng());
  auto leaf_through =
      ca::SignCertificateWith(leaf_spec, leaf->pk(), root->get(), *ca_key, drbg->rng());
  REQUIRE(leaf_direct.has_value());
  REQUIRE_MESSAGE(leaf_through.has_value(), (leaf_through ? "" : leaf_through.error().detail));
  CHECK(TbsOf(*leaf_through) == TbsOf(*leaf_direct));
  CHECK(catest::VerifyAgainst(catest::Parse(*leaf_through)->get(), root->get()) == 0);

  // A key that is not the issuer certificate's is refused before anything is signed.
  auto other = catest::FileKey(*catest::NewP256(drbg->rng()), drbg->rng());
  auto wrong = ca::SignCertificateWith(leaf_spec, leaf->pk(), root->get(), *other, drbg->rng());
  REQUIRE_FALSE(wrong.has_value());
  CHECK(wrong.error().code == ca::Code::kInvalidArgument);
}

TEST_CASE("A CA key out of reach gives kUnavailable; one that signs wrongly gives kCrypto") {
  auto drbg = catest::MakeDrbg("ca key faults");
  catest::TestCa root = catest::MakeCa(drbg->rng());
  auto device = catest::NewP256(drbg->rng());
  auto impostor = catest::FileKey(*catest::NewP256(drbg->rng()), drbg->rng());
  const ca::CrlSpec crl{.this_update = kNow, .next_update = kNow + kDay, .crl_number = {0x01}};
  auto crt = catest::Parse(root.der);

  SUBCASE("out of reach") {
    auto down = std::make_unique<OddKey>(*root.key, nullptr);
    OddKey& key = *down;
    CHECK(ca::SignCrl(crl, *crt->get(), key, drbg->rng()).error().code ==
          ca::Code::kUnavailable);
    CHECK(ca::SignCertificateWith(CaSpec(drbg->rng()), nullptr, nullptr, key, drbg->rng())
              .error().code == ca::Code::kUnavailable);
    auto issuer = ca::Issuer::Load(root.cert_pem, std::move(down));
    REQUIRE(issuer.has_value());
    auto issued = (*issuer)->Issue("dev-1", catest::PublicDer(*device->pk()), {}, kNow,
                                   drbg->rng());
    REQUIRE_FALSE(issued.has_value());
    CHECK(issued.error().code == ca::Code::kUnavailable);
  }
  SUBCASE("signs with another key") {
    auto faulty = std::make_unique<OddKey>(*root.key, std::move(impostor));
    OddKey& key = *faulty;
    CHECK(ca::SignCrl(crl, *crt->get(), key, drbg->rng()).error().code == ca::Code::kCrypto);
    auto issuer = ca::Issuer::Load(root.cert_pem, std::move(faulty));
    REQUIRE(issuer.has_value());
    auto issued = (*issuer)->Issue("dev-1", catest::PublicDer(*device->pk()), {}, kNow,
                                   drbg->rng());
    REQUIRE_FALSE(issued.has_value());
    CHECK(issued.error().code == ca::Code::kCrypto);
  }
}

}  // namespace
