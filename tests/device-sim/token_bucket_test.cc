// token_bucket_test.cc — the --rate limiter on a clock the test controls.
#include "device-sim/token_bucket.h"

#include <doctest/doctest.h>

namespace devsim {
namespace {

TEST_CASE("the bucket starts with one token, not a burst") {
  TokenBucket bucket(100, 10, 0.0);
  CHECK(bucket.TryTake(0.0));
  CHECK_FALSE(bucket.TryTake(0.0));
  CHECK(bucket.WaitSeconds(0.0) == doctest::Approx(0.01));
}

TEST_CASE("tokens accrue at the rate") {
  TokenBucket bucket(10, 1, 0.0);
  REQUIRE(bucket.TryTake(0.0));
  CHECK_FALSE(bucket.TryTake(0.05));
  CHECK(bucket.WaitSeconds(0.05) == doctest::Approx(0.05));
  CHECK(bucket.TryTake(0.1));
  CHECK_FALSE(bucket.TryTake(0.1));
}

TEST_CASE("an idle bucket holds at most the burst") {
  TokenBucket bucket(100, 5, 0.0);
  int taken = 0;
  while (bucket.TryTake(100.0)) ++taken;
  CHECK(taken == 5);
}

TEST_CASE("over a long run the rate is kept") {
  TokenBucket bucket(200, DefaultBurst(200), 0.0);
  int taken = 0;
  for (double t = 0; t < 10.0; t += 0.001) {
    while (bucket.TryTake(t)) ++taken;
  }
  CHECK(taken >= 1990);
  CHECK(taken <= 2011);
}

TEST_CASE("time going backwards adds nothing") {
  TokenBucket bucket(1, 1, 10.0);
  REQUIRE(bucket.TryTake(10.0));
  CHECK_FALSE(bucket.TryTake(5.0));
  CHECK_FALSE(bucket.TryTake(10.5));
  CHECK(bucket.TryTake(11.0));
}

TEST_CASE("the default burst is 50 ms worth, at least one") {
  CHECK(DefaultBurst(1) == 1);
  CHECK(DefaultBurst(1000) == doctest::Approx(50));
}

}  // namespace
}  // namespace devsim
