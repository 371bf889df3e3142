// run_plan_test.cc — the --rate and --duration syntax of device-sim enroll/reenroll.
#include "device-sim/run_plan.h"

#include <doctest/doctest.h>

namespace devsim {
namespace {

TEST_CASE("--rate takes a plain number or a number per second, minute or hour") {
  CHECK(*ParseRate("50") == doctest::Approx(50));
  CHECK(*ParseRate("50/s") == doctest::Approx(50));
  CHECK(*ParseRate("0.5/s") == doctest::Approx(0.5));
  CHECK(*ParseRate("3000/m") == doctest::Approx(50));
  CHECK(*ParseRate("36000/h") == doctest::Approx(10));
  CHECK(*ParseRate("0") == doctest::Approx(0));
}

TEST_CASE("--rate refuses what it cannot read, naming the option and the forms it takes") {
  for (const char* bad : {"", "/s", "fast", "50/d", "50 /s", "-5", "5/s/s", "nan", "inf/s"}) {
    CAPTURE(bad);
    auto r = ParseRate(bad);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().detail.find("--rate") != std::string::npos);
    CHECK(r.error().detail.find("N/s") != std::string::npos);
  }
}

TEST_CASE("--duration takes seconds, or a number of seconds, minutes or hours") {
  CHECK(*ParseSeconds("90") == doctest::Approx(90));
  CHECK(*ParseSeconds("90s") == doctest::Approx(90));
  CHECK(*ParseSeconds("5m") == doctest::Approx(300));
  CHECK(*ParseSeconds("1.5h") == doctest::Approx(5400));
  for (const char* bad : {"", "m", "5d", "five", "-1s", "5 m"}) {
    CAPTURE(bad);
    CHECK_FALSE(ParseSeconds(bad).has_value());
  }
}

}  // namespace
}  // namespace devsim
