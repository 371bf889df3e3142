// retry_after_test.cc — Retry-After jitter: within the stated bounds, every value in them reached,
// spread (not all equal), and a 429 never earlier than the rate limiter's token.
#include "daemon/retry_after.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstddef>
#include <map>
#include <set>

using provisiond::JitteredRateLimitWait;
using provisiond::JitteredRetryAfter;
using provisiond::RetryJitterUniform;

TEST_CASE("503 Retry-After: uniform over [base/2, base*3/2], mean the base") {
  for (int base : {1, 2, 3, 10, 30, 3600}) {
    const int lo = std::max(1, base / 2);
    const int hi = std::max(lo + 1, (base * 3 + 1) / 2);
    CHECK(JitteredRetryAfter(base, 0.0) == lo);
    CHECK(JitteredRetryAfter(base, 0.999999999) == hi);
    CHECK(JitteredRetryAfter(base, -5) == lo);  // clamped
    CHECK(JitteredRetryAfter(base, 7) == hi);
  }
  CHECK(JitteredRetryAfter(30, 0.0) == 15);
  CHECK(JitteredRetryAfter(30, 0.999) == 45);
  CHECK(JitteredRetryAfter(1, 0.2) == 1);
  CHECK(JitteredRetryAfter(1, 0.7) == 2);
  CHECK(JitteredRetryAfter(0, 0.0) == 1);  // never "come back now"
}

TEST_CASE("503 Retry-After from the thread's generator: in bounds, spread, about uniform") {
  std::map<int, int> seen;
  double sum = 0;
  constexpr int kDraws = 31000;
  for (int i = 0; i < kDraws; ++i) {
    const int v = JitteredRetryAfter(30, RetryJitterUniform());
    REQUIRE(v >= 15);
    REQUIRE(v <= 45);
    ++seen[v];
    sum += v;
  }
  CHECK(seen.size() == 31);  // every whole second of the window occurs
  for (auto [value, count] : seen) CHECK(count > kDraws / 31 / 2);  // none starved
  CHECK(sum / kDraws == doctest::Approx(30).epsilon(0.02));
}

TEST_CASE("429 Retry-After: never before the token is back, spread over half the wait") {
  for (int wait : {1, 2, 7, 60}) {
    std::set<int> seen;
    for (int i = 0; i < 2000; ++i) {
      const int v = JitteredRateLimitWait(wait, RetryJitterUniform());
      REQUIRE(v >= wait);
      REQUIRE(v <= wait + std::max(1, wait / 2));
      seen.insert(v);
    }
    CHECK(seen.size() == static_cast<std::size_t>(std::max(1, wait / 2) + 1));
  }
  CHECK(JitteredRateLimitWait(0, 0.0) == 1);
}
