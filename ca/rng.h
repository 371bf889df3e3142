// rng.h — randomness is passed into ca/ as an mbedTLS-style callback, so tests can be deterministic.
#pragma once

#include <cstddef>
#include <memory>
#include <span>

#include "ca/error.h"

namespace ca {

// An mbedTLS f_rng/p_rng pair. Not owning. Must stay valid while in use.
struct Rng {
  int (*fill)(void* state, unsigned char* out, size_t len);
  void* state;
};

// A CTR-DRBG. Not thread-safe: give each thread its own.
class Drbg {
 public:
  // Seeded from the OS entropy source (getrandom). Fails with kCrypto if seeding fails.
  static Result<std::unique_ptr<Drbg>> FromSystemEntropy();
  // Deterministic: the same seed gives the same stream. For tests only.
  static std::unique_ptr<Drbg> ForTesting(std::span<const unsigned char> seed);
  ~Drbg();
  Drbg(const Drbg&) = delete;
  Drbg& operator=(const Drbg&) = delete;

  Rng rng();

  struct State;

 private:
  explicit Drbg(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace ca
