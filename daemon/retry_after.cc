// retry_after.cc — Retry-After jitter (retry_after.h).
#include "daemon/retry_after.h"

#include <algorithm>
#include <cmath>
#include <random>

namespace provisiond {
namespace {

// The whole number in [lo, hi] that u in [0, 1) picks, each with the same chance.
int PickInRange(int lo, int hi, double u) {
  u = std::clamp(u, 0.0, std::nextafter(1.0, 0.0));
  const int span = hi - lo + 1;
  return lo + std::min(span - 1, static_cast<int>(std::floor(u * span)));
}

}  // namespace

int JitteredRetryAfter(int base_seconds, double u) {
  const int base = std::max(1, base_seconds);
  const int lo = std::max(1, base / 2);
  const int hi = std::max(lo + 1, (base * 3 + 1) / 2);
  return PickInRange(lo, hi, u);
}

int JitteredRateLimitWait(int wait_seconds, double u) {
  const int lo = std::max(1, wait_seconds);
  const int hi = lo + std::max(1, lo / 2);
  return PickInRange(lo, hi, u);
}

double RetryJitterUniform() {
  thread_local std::minstd_rand engine{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
}

}  // namespace provisiond
