// retry_test.cc — which answers are retried, Retry-After parsing and jittered back-off bounds.
#include "device-sim/retry.h"

#include <doctest/doctest.h>

namespace devsim {
namespace {

TEST_CASE("only 503 and 429 are retried") {
  CHECK(IsRetryableStatus(503));
  CHECK(IsRetryableStatus(429));
  for (int status : {200, 400, 403, 500, 502, 504}) CHECK_FALSE(IsRetryableStatus(status));
}

TEST_CASE("Retry-After: delta-seconds only") {
  CHECK(ParseRetryAfter("120") == 120.0);
  CHECK(ParseRetryAfter(" 5\t") == 5.0);
  CHECK(ParseRetryAfter("0") == 0.0);
  for (const char* bad :
       {"", " ", "-1", "1.5", "5s", "Wed, 21 Oct 2015 07:28:00 GMT", "99999999999"}) {
    CAPTURE(bad);
    CHECK_FALSE(ParseRetryAfter(bad).has_value());
  }
}

TEST_CASE("with Retry-After the wait is never shorter than asked, at most half longer") {
  CHECK(BackoffSeconds(1, 30.0, 0.0) == doctest::Approx(30));
  CHECK(BackoffSeconds(1, 30.0, 0.999) < 45.0);
  CHECK(BackoffSeconds(4, 2.0, 0.5) == doctest::Approx(2.5));
}

TEST_CASE("an absurd Retry-After is clamped") {
  CHECK(BackoffSeconds(1, 1e9, 0.0) == doctest::Approx(kMaxRetryAfterSeconds));
}

TEST_CASE("without Retry-After: exponential, equal jitter, capped at 30 s") {
  CHECK(BackoffSeconds(1, std::nullopt, 0.0) == doctest::Approx(0.25));
  CHECK(BackoffSeconds(1, std::nullopt, 0.999) < 0.5);
  CHECK(BackoffSeconds(3, std::nullopt, 0.0) == doctest::Approx(1.0));
  CHECK(BackoffSeconds(20, std::nullopt, 0.0) == doctest::Approx(15));
  CHECK(BackoffSeconds(20, std::nullopt, 0.999) < 30.0);
  CHECK(BackoffSeconds(0, std::nullopt, 0.0) == doctest::Approx(0.25));
}

}  // namespace
}  // namespace devsim
