// csr_test.cc — every way CheckCsr refuses a request, and the identity comparison.
#include "ca/csr.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <functional>

#include "tests/ca/test_util.h"

namespace {

ca::Code CodeOf(const base::Bytes& der) { return catest::FailureCode(ca::CheckCsr(der)); }

}  // namespace

TEST_CASE("a well-formed P-256 / ecdsa-with-SHA256 CSR passes and reports its contents") {
  auto drbg = catest::MakeDrbg("good csr");
  auto key = catest::NewP256(drbg->rng());
  auto checked =
      ca::CheckCsr(catest::MakeCsr(key->pk(), "CN=dev-1,serialNumber=SN9,O=Acme", drbg->rng()));
  REQUIRE_MESSAGE(checked.has_value(), (checked ? "" : checked.error().detail));
  CHECK(checked->subject == "CN=dev-1, serialNumber=SN9, O=Acme");
  CHECK(checked->common_name == "dev-1");
  CHECK(checked->serial_number == "SN9");
  CHECK(checked->public_key_der == catest::PublicDer(*key->pk()));

  auto no_identity = ca::CheckCsr(catest::MakeCsr(key->pk(), "O=Acme", drbg->rng()));
  REQUIRE(no_identity.has_value());
  CHECK(!no_identity->common_name.has_value());
  CHECK(!no_identity->serial_number.has_value());

  // mbedTLS 3.6's CSR parser refuses an empty subject SEQUENCE (its certificate parser accepts
  // one), so such requests are kMalformed. Clients must send at least one attribute.
  auto empty_subject = ca::CheckCsr(catest::MakeCsr(key->pk(), "", drbg->rng()));
  REQUIRE(!empty_subject.has_value());
  CHECK(empty_subject.error().code == ca::Code::kMalformed);
}

TEST_CASE("garbage, truncated, trailing bytes and oversize CSRs are kMalformed") {
  auto drbg = catest::MakeDrbg("malformed csr");
  auto key = catest::NewP256(drbg->rng());
  const base::Bytes good = catest::MakeCsr(key->pk(), "CN=dev-1", drbg->rng());
  CHECK(CodeOf(base::Bytes{}) == ca::Code::kMalformed);
  CHECK(CodeOf(base::Bytes{'h', 'e', 'l', 'l', 'o'}) == ca::Code::kMalformed);
  CHECK(CodeOf(base::Bytes(good.begin(), good.end() - 1)) == ca::Code::kMalformed);
  CHECK(CodeOf(base::Bytes(good.begin(), good.begin() + good.size() / 2)) == ca::Code::kMalformed);
  base::Bytes trailing = good;
  trailing.push_back(0x00);
  CHECK(CodeOf(trailing) == ca::Code::kMalformed);
  base::Bytes two = good;
  two.insert(two.end(), good.begin(), good.end());
  CHECK(CodeOf(two) == ca::Code::kMalformed);

  // Oversize: a syntactically plausible SEQUENCE header claiming 5000 bytes, all present.
  base::Bytes big = {0x30, 0x82, 0x13, 0x88};
  big.resize(4 + 5000, 0x00);
  auto checked = ca::CheckCsr(big);
  REQUIRE(!checked.has_value());
  CHECK(checked.error().code == ca::Code::kMalformed);
  CHECK(checked.error().detail.find("limit") != std::string::npos);
}

TEST_CASE("non-P-256 keys are kUnsupportedKey naming the key type") {
  auto drbg = catest::MakeDrbg("key types");
  struct Case {
    const char* name;
    std::function<void(catest::Pk&)> generate;
  };
  const std::vector<Case> cases = {
      {"RSA 1024", [&](catest::Pk& pk) { catest::GenerateRsa(pk, drbg->rng()); }},
      {"EC P-384",
       [&](catest::Pk& pk) { catest::GenerateEc(pk, MBEDTLS_ECP_DP_SECP384R1, drbg->rng()); }},
      {"EC secp256k1",
       [&](catest::Pk& pk) { catest::GenerateEc(pk, MBEDTLS_ECP_DP_SECP256K1, drbg->rng()); }},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    catest::Pk pk;
    c.generate(pk);
    auto checked = ca::CheckCsr(catest::MakeCsr(pk.get(), "CN=dev-1", drbg->rng()));
    REQUIRE(!checked.has_value());
    CHECK(checked.error().code == ca::Code::kUnsupportedKey);
    CHECK(checked.error().detail.find(c.name) != std::string::npos);
  }
}

TEST_CASE("signature algorithms other than ecdsa-with-SHA256 are kUnsupportedAlg") {
  auto drbg = catest::MakeDrbg("algs");
  auto key = catest::NewP256(drbg->rng());
  for (mbedtls_md_type_t md : {MBEDTLS_MD_SHA1, MBEDTLS_MD_SHA384, MBEDTLS_MD_SHA512}) {
    auto checked = ca::CheckCsr(catest::MakeCsr(key->pk(), "CN=dev-1", drbg->rng(), md));
    REQUIRE(!checked.has_value());
    CHECK(checked.error().code == ca::Code::kUnsupportedAlg);
  }
}

TEST_CASE("a CSR whose signature does not verify is kBadSignature (no proof of possession)") {
  auto drbg = catest::MakeDrbg("pop");
  auto key = catest::NewP256(drbg->rng());
  const base::Bytes good = catest::MakeCsr(key->pk(), "CN=dev-1", drbg->rng());

  // Change the subject inside CertificationRequestInfo: still parses, signature now wrong.
  base::Bytes tampered_subject = good;
  const std::string cn = "dev-1";
  auto at = std::search(tampered_subject.begin(), tampered_subject.end(), cn.begin(), cn.end());
  REQUIRE(at != tampered_subject.end());
  at[4] = '2';
  CHECK(CodeOf(tampered_subject) == ca::Code::kBadSignature);

  // Flip a bit in the last byte of the signature (the S integer's low byte).
  base::Bytes tampered_sig = good;
  tampered_sig.back() ^= 0x01;
  CHECK(CodeOf(tampered_sig) == ca::Code::kBadSignature);

  // Signature from one key, public key of another: splice key B's SPKI into A's CSR.
  auto other = catest::NewP256(drbg->rng());
  const base::Bytes spki_a = catest::PublicDer(*key->pk());
  const base::Bytes spki_b = catest::PublicDer(*other->pk());
  REQUIRE(spki_a.size() == spki_b.size());
  base::Bytes swapped = good;
  auto spki_at = std::search(swapped.begin(), swapped.end(), spki_a.begin(), spki_a.end());
  REQUIRE(spki_at != swapped.end());
  std::copy(spki_b.begin(), spki_b.end(), spki_at);
  CHECK(CodeOf(swapped) == ca::Code::kBadSignature);
}

TEST_CASE("CheckCsrIdentity: match, mismatch, absent") {
  ca::CheckedCsr csr;
  csr.common_name = "dev-1";
  CHECK(ca::CheckCsrIdentity(csr, "dev-1", ca::IdentitySource::kCommonName).has_value());
  auto mismatch = ca::CheckCsrIdentity(csr, "dev-2", ca::IdentitySource::kCommonName);
  REQUIRE(!mismatch.has_value());
  CHECK(mismatch.error().code == ca::Code::kIdentityMismatch);
  CHECK(!ca::CheckCsrIdentity(csr, "DEV-1", ca::IdentitySource::kCommonName).has_value());
  // No serialNumber in the CSR: accepted, the profile decides the subject.
  CHECK(ca::CheckCsrIdentity(csr, "anything", ca::IdentitySource::kSerialNumber).has_value());

  csr.serial_number = "SN1";
  CHECK(ca::CheckCsrIdentity(csr, "SN1", ca::IdentitySource::kSerialNumber).has_value());
  CHECK(ca::CheckCsrIdentity(csr, "SN2", ca::IdentitySource::kSerialNumber).error().code ==
        ca::Code::kIdentityMismatch);

  ca::CheckedCsr anonymous;
  CHECK(ca::CheckCsrIdentity(anonymous, "dev-1", ca::IdentitySource::kCommonName).has_value());
}
