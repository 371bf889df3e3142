// csr_builder_test.cc — the CSRs device-sim sends pass the server-side checks in ca/csr.h.
#include "device-sim/csr_builder.h"

#include <doctest/doctest.h>

#include <array>

#include "ca/csr.h"
#include "ca/keys.h"
#include "ca/rng.h"

namespace devsim {
namespace {

std::unique_ptr<ca::Drbg> TestDrbg() {
  constexpr std::array<unsigned char, 8> kSeed = {'c', 's', 'r', '-', 't', 'e', 's', 't'};
  return ca::Drbg::ForTesting(kSeed);
}

TEST_CASE("the CSR passes CheckCsr and names the device") {
  auto drbg = TestDrbg();
  auto key = ca::PrivateKey::GenerateP256(drbg->rng());
  REQUIRE(key);
  auto csr = BuildCsr("dev-00001", **key, drbg->rng());
  REQUIRE(csr);
  CHECK(csr->size() <= ca::kMaxCsrDer);

  auto checked = ca::CheckCsr(*csr);
  REQUIRE(checked);
  CHECK(checked->common_name == "dev-00001");
  auto spki = (*key)->PublicKeyDer();
  REQUIRE(spki);
  CHECK(checked->public_key_der == *spki);
  CHECK(ca::CheckCsrIdentity(*checked, "dev-00001", ca::IdentitySource::kCommonName));
  CHECK_FALSE(ca::CheckCsrIdentity(*checked, "dev-00002", ca::IdentitySource::kCommonName));
}

TEST_CASE("DN special characters in the id survive escaping") {
  auto drbg = TestDrbg();
  auto key = ca::PrivateKey::GenerateP256(drbg->rng());
  REQUIRE(key);
  const std::string id = "acme,line=3+x";
  auto csr = BuildCsr(id, **key, drbg->rng());
  REQUIRE(csr);
  auto checked = ca::CheckCsr(*csr);
  REQUIRE(checked);
  CHECK(checked->common_name == id);
}

TEST_CASE("each CSR is signed by its own key") {
  auto drbg = TestDrbg();
  auto first = ca::PrivateKey::GenerateP256(drbg->rng());
  auto second = ca::PrivateKey::GenerateP256(drbg->rng());
  REQUIRE(first);
  REQUIRE(second);
  auto a = BuildCsr("dev-1", **first, drbg->rng());
  auto b = BuildCsr("dev-1", **second, drbg->rng());
  REQUIRE(a);
  REQUIRE(b);
  auto checked_a = ca::CheckCsr(*a);
  auto checked_b = ca::CheckCsr(*b);
  REQUIRE(checked_a);
  REQUIRE(checked_b);
  CHECK(checked_a->public_key_der != checked_b->public_key_der);
}

}  // namespace
}  // namespace devsim

TEST_CASE("a CSR with a challengePassword passes CheckCsr and carries the value") {
  auto drbg = ca::Drbg::ForTesting(std::vector<unsigned char>(32, 9));
  auto key = ca::PrivateKey::GenerateP256(drbg->rng());
  REQUIRE(key);
  auto der = devsim::BuildCsrWithChallenge("dev-00007", **key, drbg->rng(), "c2VjcmV0LWJpbmRpbmc=");
  REQUIRE(der);
  auto checked = ca::CheckCsr(*der);
  REQUIRE(checked);
  REQUIRE(checked->challenge_password);
  CHECK(*checked->challenge_password == "c2VjcmV0LWJpbmRpbmc=");
  CHECK(checked->common_name == "dev-00007");
  auto spki = (*key)->PublicKeyDer();
  REQUIRE(spki);
  CHECK(checked->public_key_der == *spki);
}
