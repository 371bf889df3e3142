// renewal_test.cc — simplereenroll's checks (same key, renewal window on the fake clock, the
// stored profile and device id), each alone and against its neighbour in the order of
// daemon/authority/enrollment.h; the revoked authenticating certificate refused by Reserve.
#include <doctest/doctest.h>

#include "daemon/authority/enrollment.h"
#include "tests/daemon/authority/bench.h"

using namespace authoritytest;

namespace {

constexpr base::UnixTime kRenewBefore = 30 * 86400;

// When the renewal window of d's operational certificate opens.
base::UnixTime WindowOpens(const Device& d) { return d.peer.cert->not_after - kRenewBefore; }

}  // namespace

TEST_CASE("renewal with a new key inside the window is issued under the same device") {
  Bench b;
  b.config.policy.renew_before = kRenewBefore;
  b.Start();
  Device d = b.NewDevice();
  EnrollRequest renew = Renewal(b, d);
  b.time.Advance(WindowOpens(d) - b.time.Now());
  EnrollResult r = Expect(b, renew, EnrollCode::kIssued);
  CHECK(r.device_id == d.id);
  CHECK(b.Rows("certificates", "kind = 'reenroll' AND serial = '" + r.serial_hex + "'") == 1);
}

TEST_CASE("renewal window: too early until it opens, by the injected clock") {
  Bench b;
  b.config.policy.renew_before = kRenewBefore;
  b.Start();
  Device d = b.NewDevice();
  EnrollRequest renew = Renewal(b, d);
  EnrollResult r = Expect(b, renew, EnrollCode::kTooEarly);
  CHECK(r.detail == ca::Iso8601(WindowOpens(d)));
  b.time.Advance(WindowOpens(d) - 1 - b.time.Now());
  Expect(b, renew, EnrollCode::kTooEarly);
  b.time.Advance(1);
  Expect(b, renew, EnrollCode::kIssued);
  CHECK(b.Rows("certificates", "kind = 'reenroll' AND tbs_sha256 IS NOT NULL") == 1);
  CHECK(b.Rows("issuance_intents") == 0);  // an issued intent leaves its certificate only
}

TEST_CASE("same-key renewal is refused, before the renewal window") {
  Bench b;
  b.config.policy.renew_before = kRenewBefore;
  b.Start();
  Device d = b.NewDevice();
  EnrollResult issued = b.Run(b.Request(d));
  REQUIRE(issued.code == EnrollCode::kIssued);
  d.peer = Bench::Operational(issued.der, d.id);
  EnrollRequest same_key = b.Request(d, /*reenroll=*/true);  // d.key: the certificate's key
  Expect(b, same_key, EnrollCode::kSameKeyRenewal);           // and too early as well
  b.time.Advance(WindowOpens(d) - b.time.Now());
  Expect(b, same_key, EnrollCode::kSameKeyRenewal);
  // The enrollment's intent became its certificate; the refused renewal reserved nothing.
  CHECK(b.Rows("issuance_intents") == 0);
  CHECK(b.Rows("certificates") == 1);
}

TEST_CASE("same-key renewal when configured; still within the window") {
  Bench b;
  b.config.policy.renew_before = kRenewBefore;
  b.config.policy.reenroll_same_key = true;
  b.Start();
  Device d = b.NewDevice();
  EnrollResult issued = b.Run(b.Request(d));
  REQUIRE(issued.code == EnrollCode::kIssued);
  d.peer = Bench::Operational(issued.der, d.id);
  EnrollRequest same_key = b.Request(d, /*reenroll=*/true);
  Expect(b, same_key, EnrollCode::kTooEarly);
  b.time.Advance(WindowOpens(d) - b.time.Now());
  Expect(b, same_key, EnrollCode::kIssued);
}

TEST_CASE("renewal keeps the stored profile: mismatch, after the renewal window") {
  Bench b;
  b.config.policy.renew_before = kRenewBefore;
  b.config.labeled_profiles["line-a"] = b.config.default_profile;
  b.Start();
  Device d = b.NewDevice();
  EnrollRequest renew = Renewal(b, d);
  renew.label = "line-a";
  renew.profile = &b.config.labeled_profiles.at("line-a");
  renew.endpoint = "line-a/simplereenroll";
  Expect(b, renew, EnrollCode::kTooEarly);
  b.time.Advance(WindowOpens(d) - b.time.Now());
  CHECK(Expect(b, renew, EnrollCode::kProfileMismatch).detail ==
        "issued under profile \"\", renewing under \"line-a\"");
}

TEST_CASE("renewal: the stored device id must be the certificate's; after the profile") {
  Bench b;
  b.config.labeled_profiles["line-a"] = b.config.default_profile;
  b.Start();
  Device d = b.NewDevice();
  EnrollRequest renew = Renewal(b, d);
  renew.peer.device_id = "dev-other";  // a certificate naming another device than its record
  renew.body = b.Csr(*d.key, "dev-other");
  CHECK(Expect(b, renew, EnrollCode::kNoDeviceId).detail ==
        "certificate names dev-other, its record " + d.id);
  renew.label = "line-a";
  renew.profile = &b.config.labeled_profiles.at("line-a");
  Expect(b, renew, EnrollCode::kProfileMismatch);
}

TEST_CASE("renewal with a certificate the store does not know") {
  Bench b;
  b.Start();
  Device d = b.NewDevice();
  EnrollRequest renew = Renewal(b, d);
  renew.peer.cert->serial_hex = db::testing::SerialHex(424242);
  CHECK(Expect(b, renew, EnrollCode::kProfileMismatch).detail == "certificate not in the store");
}

TEST_CASE("a revoked operational certificate: auth_revoked at Reserve, after the stored profile") {
  Bench b;
  b.config.labeled_profiles["line-a"] = b.config.default_profile;
  b.Start();
  Device d = b.NewDevice();
  EnrollRequest renew = Renewal(b, d);
  auto revoked = b.store->RevokeSerial(d.peer.cert->serial_hex, 1, "2026-05-01T00:00:00Z");
  REQUIRE(revoked.has_value());
  REQUIRE(*revoked == 1);
  Expect(b, renew, EnrollCode::kAuthRevoked);
  CHECK(b.Rows("issuance_intents", "kind = 'reenroll'") == 0);
  renew.label = "line-a";
  renew.profile = &b.config.labeled_profiles.at("line-a");
  Expect(b, renew, EnrollCode::kProfileMismatch);
}
