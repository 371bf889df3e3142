// bad_actors_test.cc — the rogue CA, minted client certificates and broken CSRs are what the
// server must refuse, and for the reason the class names.
#include "device-sim/bad_actors.h"

#include <doctest/doctest.h>

#include <array>

#include "ca/csr.h"
#include "device-sim/csr_builder.h"

namespace devsim {
namespace {

constexpr base::UnixTime kNow = 1'780'000'000;  // 2026-05-28

std::unique_ptr<ca::Drbg> TestDrbg() {
  constexpr std::array<unsigned char, 4> kSeed = {'b', 'a', 'd', '!'};
  return ca::Drbg::ForTesting(kSeed);
}

TEST_CASE("a broken CSR still parses but fails proof of possession") {
  auto drbg = TestDrbg();
  auto key = ca::PrivateKey::GenerateP256(drbg->rng());
  REQUIRE(key);
  auto csr = BuildCsr("dev-00001", **key, drbg->rng());
  REQUIRE(csr);
  REQUIRE(ca::CheckCsr(*csr));
  const base::Bytes broken = BreakCsrSignature(*csr);
  CHECK(broken.size() == csr->size());
  auto checked = ca::CheckCsr(broken);
  REQUIRE_FALSE(checked);
  CHECK(checked.error().code == ca::Code::kBadSignature);
}

TEST_CASE("the rogue CA is a CA and signs leaves for real device ids") {
  auto drbg = TestDrbg();
  auto rogue = MakeRogueCa(kNow, drbg->rng());
  REQUIRE(rogue);
  auto ca = ParseSigningCa(*rogue, drbg->rng());
  REQUIRE(ca);
  CHECK(ca->cert->get()->MBEDTLS_PRIVATE(ca_istrue) == 1);
  auto subject = ca::PrivateKey::GenerateP256(drbg->rng());
  REQUIRE(subject);
  auto leaf =
      MintClientCert("dev-00042", BootstrapKind::kGood, *(*subject)->pk(), *ca, kNow, drbg->rng());
  REQUIRE(leaf);
  auto id = ca::DeviceIdOf(*(*leaf)->get(), ca::IdentitySource::kCommonName);
  REQUIRE(id);
  CHECK(*id == "dev-00042");
  uint32_t flags = 0;
  // It chains to the rogue CA (at kNow), so only trusting that CA would accept it.
  mbedtls_x509_crt_verify((*leaf)->get(), ca->cert->get(), nullptr, nullptr, &flags, nullptr,
                          nullptr);
  CHECK((flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED) == 0);
}

TEST_CASE("an expired client certificate ended before now") {
  auto drbg = TestDrbg();
  auto rogue = MakeRogueCa(kNow, drbg->rng());
  REQUIRE(rogue);
  auto ca = ParseSigningCa(*rogue, drbg->rng());
  REQUIRE(ca);
  auto leaf =
      MintClientCert("dev-1", BootstrapKind::kExpired, *ca->key->pk(), *ca, kNow, drbg->rng());
  REQUIRE(leaf);
  CHECK(ca::ToUnixTime((*leaf)->get()->valid_to) < kNow);
  CHECK(ca::ToUnixTime((*leaf)->get()->valid_from) < kNow);
}

}  // namespace
}  // namespace devsim
