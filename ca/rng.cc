// rng.cc — CTR-DRBG behind ca::Rng: seeded from the OS, or from a fixed seed for tests.
#include "ca/rng.h"

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>

#include <vector>

#include "base/scoped.h"

namespace ca {

// Heap-allocated and never moved: the DRBG keeps a pointer to the entropy context (or to
// test_seed/test_pos through the callback's p_entropy).
struct Drbg::State {
  base::Scoped<mbedtls_entropy_context, mbedtls_entropy_init, mbedtls_entropy_free> entropy;
  base::Scoped<mbedtls_ctr_drbg_context, mbedtls_ctr_drbg_init, mbedtls_ctr_drbg_free> drbg;
  std::vector<unsigned char> test_seed;
  size_t test_pos = 0;
};

namespace {

// Entropy source for ForTesting: cycles through the seed bytes, so seeding and every later
// reseed are reproducible. An empty seed yields zeros.
int TestEntropy(void* p, unsigned char* out, size_t len) {
  auto* state = static_cast<Drbg::State*>(p);
  const auto& seed = state->test_seed;
  for (size_t i = 0; i < len; ++i) {
    out[i] = seed.empty() ? 0 : seed[state->test_pos++ % seed.size()];
  }
  return 0;
}

constexpr unsigned char kPersonalization[] = "provisiond ca::Drbg";

}  // namespace

Drbg::Drbg(std::unique_ptr<State> state) : state_(std::move(state)) {}
Drbg::~Drbg() = default;

Result<std::unique_ptr<Drbg>> Drbg::FromSystemEntropy() {
  auto state = std::make_unique<State>();
  int ret = mbedtls_ctr_drbg_seed(state->drbg.get(), mbedtls_entropy_func, state->entropy.get(),
                                  kPersonalization, sizeof(kPersonalization) - 1);
  if (ret != 0) return Fail(Code::kCrypto, MbedtlsError("mbedtls_ctr_drbg_seed", ret));
  return std::unique_ptr<Drbg>(new Drbg(std::move(state)));
}

// Seeding from a callback that cannot fail only fails on programming errors (e.g. a bad entropy
// length); a test that gets nullptr back crashes at once, which is what a test wants.
std::unique_ptr<Drbg> Drbg::ForTesting(std::span<const unsigned char> seed) {
  auto state = std::make_unique<State>();
  state->test_seed.assign(seed.begin(), seed.end());
  int ret = mbedtls_ctr_drbg_seed(state->drbg.get(), TestEntropy, state.get(), kPersonalization,
                                  sizeof(kPersonalization) - 1);
  if (ret != 0) return nullptr;
  return std::unique_ptr<Drbg>(new Drbg(std::move(state)));
}

Rng Drbg::rng() { return Rng{mbedtls_ctr_drbg_random, state_->drbg.get()}; }

}  // namespace ca
