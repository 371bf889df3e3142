// rollover_test.cc — a device learns a rolled-over CA's new root from /cacerts only through a
// NewWithOld link that verifies under a root it already trusts (device-sim/rollover.h).
#include "device-sim/rollover.h"

#include <doctest/doctest.h>

#include <ctime>

#include "ca/cert.h"
#include "ca/ca_key.h"
#include "ca/keys.h"
#include "ca/rollover.h"
#include "tests/ca/test_util.h"

namespace {

struct Roots {
  base::Bytes old_root;
  ca::RolloverCerts certs;
};

// A root valid now and its rollover (mbedTLS checks the links against the clock).
Roots Rolled(ca::Rng rng) {
  const base::UnixTime now = std::time(nullptr);
  auto old_key = catest::FileKey(*catest::NewP256(rng), rng);
  auto new_key = catest::FileKey(*catest::NewP256(rng), rng);
  auto old_root = ca::SelfSignedRoot("CN=Fleet CA", now - 3600, now + 86400, *old_key, rng);
  REQUIRE(old_root.has_value());
  auto parsed = catest::Parse(*old_root);
  auto certs = ca::MakeRolloverCerts(*parsed->get(), *old_key, *new_key, now, 10, rng);
  REQUIRE(certs.has_value());
  return Roots{*old_root, *certs};
}

}  // namespace

TEST_CASE("device-sim learns the new root through NewWithOld under the root it trusts") {
  auto drbg = catest::MakeDrbg("devsim rollover");
  Roots r = Rolled(drbg->rng());
  auto trust = catest::Parse(r.old_root);
  const std::vector<base::Bytes> cacerts{r.old_root, r.certs.new_ca, r.certs.new_with_old,
                                         r.certs.old_with_new};
  auto learned = devsim::RootsLearnedFromCacerts(cacerts, trust->get());
  REQUIRE(learned.size() == 1);
  CHECK(learned[0] == r.certs.new_ca);
  // Once trusted, nothing more to learn.
  REQUIRE(ca::AppendCertificates(*trust, catest::AsText(r.certs.new_ca)).has_value());
  CHECK(devsim::RootsLearnedFromCacerts(cacerts, trust->get()).empty());
}

TEST_CASE("device-sim ignores a new root without a link it can verify") {
  auto drbg = catest::MakeDrbg("devsim rollover refusals");
  Roots r = Rolled(drbg->rng());
  auto trust = catest::Parse(r.old_root);
  // No link at all, or only OldWithNew (signed by the new key, which the device does not trust).
  CHECK(devsim::RootsLearnedFromCacerts({r.certs.new_ca}, trust->get()).empty());
  CHECK(devsim::RootsLearnedFromCacerts({r.certs.new_ca, r.certs.old_with_new}, trust->get())
            .empty());
  // Another CA's rollover: its NewWithOld verifies under a root this device does not hold.
  Roots other = Rolled(drbg->rng());
  CHECK(devsim::RootsLearnedFromCacerts({other.certs.new_ca, other.certs.new_with_old},
                                        trust->get())
            .empty());
}
