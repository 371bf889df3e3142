// outcome_test.cc — each scenario class's expected outcome and the texts scripts depend on.
#include "device-sim/outcome.h"

#include <doctest/doctest.h>

namespace devsim {
namespace {

TEST_CASE("each class expects its own outcome") {
  const auto v13 = TlsVersion::k13;
  CHECK(Meets(Outcome::Issued(), Expected(Scenario::kGood, v13)));
  CHECK(Meets(Outcome::Alert(48, "cacerts"), Expected(Scenario::kRogueCa, v13)));
  CHECK(Meets(Outcome::Alert(116, "cacerts"), Expected(Scenario::kNoCert, v13)));
  CHECK(Meets(Outcome::Alert(40, "handshake"), Expected(Scenario::kNoCert, TlsVersion::k12)));
  CHECK(Meets(Outcome::Alert(45, "handshake"), Expected(Scenario::kExpired, v13)));
  CHECK(Meets(Outcome::Http(400, "enroll", "malformed"), Expected(Scenario::kBadCsr, v13)));
  CHECK(Meets(Outcome::Http(403, "enroll", "x"), Expected(Scenario::kReplay, v13)));
}

TEST_CASE("anything else is unexpected") {
  const auto v13 = TlsVersion::k13;
  CHECK_FALSE(Meets(Outcome::Http(200, "enroll", ""), Expected(Scenario::kGood, v13)));
  CHECK_FALSE(Meets(Outcome::Issued(), Expected(Scenario::kReplay, v13)));
  CHECK_FALSE(Meets(Outcome::Alert(40, "handshake"), Expected(Scenario::kNoCert, v13)));
  CHECK_FALSE(Meets(Outcome::Alert(48, "cacerts"), Expected(Scenario::kExpired, v13)));
  CHECK_FALSE(Meets(Outcome::Http(403, "enroll", ""), Expected(Scenario::kBadCsr, v13)));
  CHECK_FALSE(
      Meets(Outcome::Error("timeout: handshake after 30.0s"), Expected(Scenario::kRogueCa, v13)));
}

TEST_CASE("texts keep the shapes the scripts grep") {
  CHECK(Describe(Outcome::Alert(45, "handshake")) ==
        "tls: handshake: fatal alert 45 certificate_expired");
  CHECK(Describe(Outcome::Http(403, "enroll", "no")) == "http 403: no");
  CHECK(Describe(Outcome::Issued()) == "certificate issued");
  CHECK(Describe(Outcome::Error("connect x: refused")) == "connect x: refused");
  CHECK(Describe(Expected(Scenario::kRogueCa, TlsVersion::k13)) == "tls alert 48 unknown_ca");
  CHECK(Describe(Expected(Scenario::kBadCsr, TlsVersion::k13)) == "http 400");
  CHECK(Describe(Expected(Scenario::kGood, TlsVersion::k12)) == "certificate");
}

}  // namespace
}  // namespace devsim
