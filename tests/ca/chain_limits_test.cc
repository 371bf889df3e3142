// chain_limits_test.cc — the client-chain screen (issue #12): count, sizes and key types are
// refused before anything would verify a signature with the presented keys.
#include "ca/chain_limits.h"

#include <mbedtls/rsa.h>

#include <optional>
#include <vector>

#include "tests/ca/test_util.h"

namespace {

using catest::Pk;

// An RSA public key from raw numbers (no private key, as an attacker sends it): an odd modulus
// of n_bits and either the exponent e_value or, when e_value is 0, a random odd one of e_bits.
void RsaFromNumbers(Pk& pk, ca::Rng rng, size_t n_bits, size_t e_bits, uint32_t e_value = 0) {
  std::vector<unsigned char> n(n_bits / 8), e;
  REQUIRE(rng.fill(rng.state, n.data(), n.size()) == 0);
  n.front() |= 0x80;
  n.back() |= 1;
  if (e_value != 0) {
    for (int shift = 24; shift >= 0; shift -= 8) {
      if (!e.empty() || (e_value >> shift) != 0) e.push_back((e_value >> shift) & 0xff);
    }
  } else {
    e.resize((e_bits + 7) / 8);
    REQUIRE(rng.fill(rng.state, e.data(), e.size()) == 0);
    const size_t top_bits = e_bits - 8 * (e.size() - 1);
    e.front() = static_cast<unsigned char>((e.front() & ((1u << top_bits) - 1)) |
                                           (1u << (top_bits - 1)));
    e.back() |= 1;
  }
  REQUIRE(mbedtls_pk_setup(pk.get(), mbedtls_pk_info_from_type(MBEDTLS_PK_RSA)) == 0);
  mbedtls_rsa_context* rsa = mbedtls_pk_rsa(*pk.get());
  REQUIRE(mbedtls_rsa_import_raw(rsa, n.data(), n.size(), nullptr, 0, nullptr, 0, nullptr, 0,
                                 e.data(), e.size()) == 0);
  REQUIRE(mbedtls_rsa_complete(rsa) == 0);
}

// nullopt on success, so a passing screen never equals an expected refusal code.
std::optional<ca::Code> CodeOf(const ca::Result<void>& r) {
  if (r) return std::nullopt;
  return r.error().code;
}

}  // namespace

TEST_CASE("ScreenChainKey: a device leaf is EC P-256 or P-384 only") {
  auto drbg = catest::MakeDrbg("chain-limits-leaf");
  Pk p256, p384, p521, rsa;
  catest::GenerateEc(p256, MBEDTLS_ECP_DP_SECP256R1, drbg->rng());
  catest::GenerateEc(p384, MBEDTLS_ECP_DP_SECP384R1, drbg->rng());
  catest::GenerateEc(p521, MBEDTLS_ECP_DP_SECP521R1, drbg->rng());
  RsaFromNumbers(rsa, drbg->rng(), 2048, 0, 65537);
  CHECK(ca::ScreenChainKey(*p256.get(), 0));
  CHECK(ca::ScreenChainKey(*p384.get(), 0));
  CHECK(CodeOf(ca::ScreenChainKey(*p521.get(), 0)) == ca::Code::kUnsupportedKey);
  auto r = ca::ScreenChainKey(*rsa.get(), 0);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == ca::Code::kUnsupportedKey);
  CHECK(r.error().detail.find("leaf") != std::string::npos);
}

TEST_CASE("ScreenChainKey: CA keys are EC P-256/P-384 or RSA 2048..4096 with e <= 65537") {
  auto drbg = catest::MakeDrbg("chain-limits-ca");
  Pk p256, p384, k1;
  catest::GenerateEc(p256, MBEDTLS_ECP_DP_SECP256R1, drbg->rng());
  catest::GenerateEc(p384, MBEDTLS_ECP_DP_SECP384R1, drbg->rng());
  catest::GenerateEc(k1, MBEDTLS_ECP_DP_SECP256K1, drbg->rng());
  CHECK(ca::ScreenChainKey(*p256.get(), 1));
  CHECK(ca::ScreenChainKey(*p384.get(), 2));
  CHECK(CodeOf(ca::ScreenChainKey(*k1.get(), 1)) == ca::Code::kUnsupportedKey);
  struct Case {
    size_t n_bits, e_bits;
    uint32_t e_value;
    bool ok;
  } cases[] = {{2048, 0, 65537, true},   {3072, 0, 65537, true},  {4096, 0, 65537, true},
               {2048, 0, 3, true},       {1024, 0, 65537, false}, {4104, 0, 65537, false},
               {8192, 0, 65537, false},  {2048, 0, 65539, false}, {2048, 0, 1u << 31 | 1, false},
               {2048, 2000, 0, false},   {8192, 8190, 0, false}};
  for (const auto& c : cases) {
    CAPTURE(c.n_bits);
    CAPTURE(c.e_bits);
    CAPTURE(c.e_value);
    Pk rsa;
    RsaFromNumbers(rsa, drbg->rng(), c.n_bits, c.e_bits, c.e_value);
    auto r = ca::ScreenChainKey(*rsa.get(), 1);
    CHECK(r.has_value() == c.ok);
    if (!r) CHECK(r.error().code == ca::Code::kUnsupportedKey);
  }
}

TEST_CASE("ScreenChainShape: count, one certificate's size, total size") {
  const ca::ChainLimits& l = ca::kClientChainLimits;
  CHECK(ca::ScreenChainShape(l.max_certs, 1000, 4000, l));
  CHECK(CodeOf(ca::ScreenChainShape(l.max_certs + 1, 1000, 5000, l)) == ca::Code::kMalformed);
  CHECK(ca::ScreenChainShape(1, l.max_cert_bytes, l.max_cert_bytes, l));
  CHECK(CodeOf(ca::ScreenChainShape(1, l.max_cert_bytes + 1, l.max_cert_bytes + 1, l)) ==
        ca::Code::kMalformed);
  CHECK(ca::ScreenChainShape(3, 4000, l.max_total_bytes, l));
  CHECK(CodeOf(ca::ScreenChainShape(4, 400, l.max_total_bytes + 1, l)) == ca::Code::kMalformed);
}

TEST_CASE("ScreenDerChain: limits come before parsing; keys are screened after") {
  auto drbg = catest::MakeDrbg("chain-limits-der");
  std::vector<unsigned char> garbage(100, 0x30);
  std::vector<std::span<const unsigned char>> five(5, std::span(garbage));
  auto too_many = ca::ScreenDerChain(five, ca::kClientChainLimits);
  REQUIRE_FALSE(too_many);
  CHECK(too_many.error().detail.find("more than 4 certificates") != std::string::npos);
  std::vector<std::span<const unsigned char>> one(1, std::span(garbage));
  CHECK(CodeOf(ca::ScreenDerChain(one, ca::kClientChainLimits)) == ca::Code::kMalformed);

  auto leaf = catest::MakeCa(drbg->rng(), catest::kNow + catest::kDay, "CN=dev-1", false);
  auto root = catest::MakeCa(drbg->rng());
  std::vector<std::span<const unsigned char>> good = {leaf.der, root.der};
  CHECK(ca::ScreenDerChain(good, ca::kClientChainLimits));
  CHECK(ca::ScreenChain(*catest::Parse(leaf.der)->get(), ca::kClientChainLimits));

  // A CA certificate for an RSA-8192 key with an ~8190-bit exponent (issue #12), signed by
  // the root: refused by its key, before any signature would be checked with it.
  Pk huge;
  RsaFromNumbers(huge, drbg->rng(), 8192, 8190);
  ca::CertSpec spec;
  spec.subject_dn = "CN=Hostile CA";
  spec.serial = {0x01};
  spec.not_before = catest::kNow - catest::kDay;
  spec.not_after = catest::kNow + catest::kDay;
  spec.is_ca = true;
  spec.max_path_len = -1;
  spec.key_usage = MBEDTLS_X509_KU_KEY_CERT_SIGN;
  auto hostile = ca::SignCertificate(spec, *huge.get(), catest::Parse(root.der)->get(),
                                     *root.key->pk(), drbg->rng());
  REQUIRE(hostile.has_value());
  std::vector<std::span<const unsigned char>> bad = {leaf.der, *hostile};
  auto r = ca::ScreenDerChain(bad, ca::kClientChainLimits);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == ca::Code::kUnsupportedKey);
  CHECK(r.error().detail.find("certificate 1") != std::string::npos);
}
