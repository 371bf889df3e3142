// rate_limiter_test.cc — token buckets and the duration/rate syntax of the CLI.
#include "daemon/authority/rate_limiter.h"

#include <doctest/doctest.h>

using namespace provisiond;
using namespace std::chrono_literals;

TEST_CASE("durations and rate specs parse, and bad ones are refused") {
  CHECK(ParseDuration("30d").value() == 30 * 86400s);
  CHECK(ParseDuration("90s").value() == 90s);
  CHECK(ParseDuration("15m").value() == 900s);
  for (const char* bad : {"", "30", "d", "-1d", "1w", "1.5h", "0s"}) CHECK_FALSE(ParseDuration(bad));
  auto r = ParseRateSpec("10/1m");
  REQUIRE(r);
  CHECK(r->burst == 10);
  CHECK(r->period == 60s);
  CHECK(ParseRateSpec("off").value().burst == 0);
  for (const char* bad : {"10", "/1m", "x/1m", "10/", "10/1x", "0/1m"}) CHECK_FALSE(ParseRateSpec(bad));
}

TEST_CASE("a bucket allows its burst, refuses with a retry time, and refills") {
  RateLimiter limiter(RateSpec{3, 60s});
  auto t0 = RateLimiter::TimePoint{} + 1000s;
  CHECK_FALSE(limiter.Take("a", t0));
  CHECK_FALSE(limiter.Take("a", t0));
  CHECK_FALSE(limiter.Take("a", t0));
  auto wait = limiter.Take("a", t0);
  REQUIRE(wait);
  CHECK(*wait == 20);                       // one token per 20 s
  CHECK_FALSE(limiter.Take("b", t0));       // keys are independent
  CHECK(limiter.Take("a", t0 + 19s));       // not yet
  CHECK_FALSE(limiter.Take("a", t0 + 21s));  // one token back
}

TEST_CASE("off means unlimited, and the key map stays bounded") {
  RateLimiter off(RateSpec{});
  for (int i = 0; i < 1000; ++i) CHECK_FALSE(off.Take("k", RateLimiter::TimePoint{}));
  RateLimiter small(RateSpec{1, 1s}, /*max_keys=*/10);
  auto t = RateLimiter::TimePoint{} + 100s;
  // Each key's bucket is full again 2 s later, so older keys can be dropped.
  for (int i = 0; i < 100; ++i) {
    CHECK_FALSE(small.Take("key" + std::to_string(i), t + std::chrono::seconds(2 * i)));
    CHECK(small.tracked_keys() <= 11);
  }
}
