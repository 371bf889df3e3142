// branches_test.cc — the decision's less travelled branches: resume under another label, the allow
// rule on renewal, failed Prepare, duplicate serials, a busy or full store, a failed renewal lookup.
#include <doctest/doctest.h>

#include "daemon/authority/enrollment.h"
#include "tests/daemon/authority/bench.h"

using namespace authoritytest;

namespace {

// `request` sent to the labelled profile "line-a" (which b.config must hold) through `rule`.
EnrollRequest ThroughLineA(Bench& b, EnrollRequest request, const ProfileRule* rule) {
  request.label = "line-a";
  request.profile = &b.config.labeled_profiles.at("line-a");
  request.rule = rule;
  request.endpoint = request.reenroll ? "line-a/simplereenroll" : "line-a/simpleenroll";
  return request;
}

// An Enroller like the bench's, drawing from `rng`.
void UseRng(Bench& b, ca::Rng rng) {
  b.enroller = std::make_unique<Enroller>(*b.shared, *b.issuer, rng, b.inbox.executor(), *b.reader);
}

const std::string kCollidingSerial = [] {
  std::string hex;
  for (int i = 0; i < 16; ++i) hex += "5a";
  return hex;
}();

}  // namespace

TEST_CASE("resume: an intent reserved under another profile label is not signed") {
  Bench b;
  b.config.labeled_profiles["line-a"] = b.config.default_profile;  // identical but for the label
  b.Start();
  Device d = b.NewDevice();
  const std::string serial = InterruptedBySigning(b, b.Request(d));  // under the default ""
  REQUIRE_FALSE(serial.empty());
  ProfileRule any;  // a labelled profile without a rule admits nobody: this one admits any CA
  any.any_anchor = true;
  EnrollResult r = Expect(b, ThroughLineA(b, b.Request(d), &any), EnrollCode::kIntentMismatch);
  CHECK(r.serial_hex == serial);
  CHECK(r.detail == "pending intent " + serial + " not signed: profile: '', want 'line-a'");
  CHECK(b.Rows("certificates") == 0);
  CHECK(b.Rows("issuance_intents", "status = 'pending' AND profile = ''") == 1);
  // Through the endpoint it was reserved under, the same retry resumes it.
  CHECK(Expect(b, b.Request(d), EnrollCode::kIssued).serial_hex == serial);
}

TEST_CASE("a labelled profile's allow rule binds enrollment, not renewal") {
  Bench b;
  b.config.labeled_profiles["line-a"] = b.config.default_profile;
  b.Start();
  Device d = b.NewDevice();
  ProfileRule maker;
  maker.anchor_key_sha256.insert(d.peer.anchor_key_sha256);
  const ProfileRule nobody;  // the rule tightened after d enrolled
  EnrollRequest renew = ThroughLineA(b, Renewal(b, d, ThroughLineA(b, b.Request(d), &maker)),
                                     &nobody);
  EnrollResult r = Expect(b, renew, EnrollCode::kIssued);
  CHECK(b.Rows("certificates", "kind = 'reenroll' AND profile = 'line-a' AND serial = '" +
                                   r.serial_hex + "'") == 1);
  Device newcomer = b.NewDevice();
  CHECK(Expect(b, ThroughLineA(b, b.Request(newcomer), &nobody), EnrollCode::kProfileNotAllowed)
            .detail == "trust anchor \"CN=Maker CA\" not allowed for line-a/simpleenroll");
  CHECK(b.Rows("issuance_intents") == 0);  // both issued (rows gone), the refusal reserved none
  CHECK(b.Rows("certificates") == 2);
}

TEST_CASE("failed prepare: the CA expired by the clock, or the serial's RNG fails; 500, no write") {
  Bench b;
  b.Start();
  Device d = b.NewDevice();
  b.time.Advance(3651 * catest::kDay);  // the CA certificate expired a day ago
  std::optional<EnrollResult> later;
  auto now = b.enroller->Enroll(b.Request(d), [&later](EnrollResult r) { later = std::move(r); });
  REQUIRE(now.has_value());  // decided on the worker, before any write
  CHECK(now->code == EnrollCode::kInternal);
  CHECK(now->detail.starts_with("CA certificate expires at "));
  CHECK(now->device_id == d.id);
  b.time.Advance(-3651 * catest::kDay);
  b.rng.fail = true;
  CHECK(Expect(b, b.Request(d), EnrollCode::kInternal).detail.starts_with("rng"));
  b.rng.fail = false;
  CHECK(b.Rows("issuance_intents") == 0);
  CHECK_FALSE(later.has_value());
  Expect(b, b.Request(d), EnrollCode::kIssued);
}

TEST_CASE("duplicate serial: Reserve retried with a new serial, up to three attempts") {
  Bench b;
  b.Start();
  RepeatingSerialRng rng{b.rng};
  UseRng(b, rng.rng());
  rng.repeats = 1;
  Device first = b.NewDevice();
  REQUIRE(Expect(b, b.Request(first), EnrollCode::kIssued).serial_hex == kCollidingSerial);
  REQUIRE(rng.serial_draws == 1);

  rng.repeats = 2;  // the first two attempts collide, the third draws afresh
  Device second = b.NewDevice();
  EnrollResult r = Expect(b, b.Request(second), EnrollCode::kIssued);
  CHECK(r.serial_hex != kCollidingSerial);
  CHECK(rng.serial_draws == 4);
  CHECK(b.Rows("certificates", "device_id = '" + second.id + "'") == 1);

  rng.repeats = 3;  // every attempt collides: nothing written, the store's error (500)
  Device third = b.NewDevice();
  r = Expect(b, b.Request(third), EnrollCode::kStoreFailed);
  CHECK(r.detail.find("serial " + kCollidingSerial + " is already in") != std::string::npos);
  CHECK(rng.serial_draws == 7);
  CHECK(rng.repeats == 0);
  CHECK(b.Rows("issuance_intents", "device_id = '" + third.id + "'") == 0);
  Expect(b, b.Request(third), EnrollCode::kIssued);
}

TEST_CASE("a busy store (another writer past busy_timeout): 503, nothing written; then issued") {
  Bench b;
  b.Start();
  Device d = b.NewDevice();
  auto other = db::testing::OpenRaw(b.path);
  db::testing::ExecRaw(other.get(), "BEGIN IMMEDIATE");  // holds the write lock (5 s wait)
  EnrollResult r = Expect(b, b.Request(d), EnrollCode::kStoreUnavailable);
  CHECK(r.detail.find("locked") != std::string::npos);
  db::testing::ExecRaw(other.get(), "ROLLBACK");
  CHECK(b.Rows("issuance_intents") == 0);
  Expect(b, b.Request(d), EnrollCode::kIssued);
}

TEST_CASE("renewal: the presented certificate's lookup fails; 500, nothing reserved") {
  Bench b;
  b.Start();
  Device d = b.NewDevice();
  EnrollRequest renew = Renewal(b, d);
  Exec(b, "ALTER TABLE certificates RENAME TO certificates_away");  // under the reader's feet
  EnrollResult r = Expect(b, renew, EnrollCode::kStoreFailed);
  CHECK(r.detail.find("no such table: certificates") != std::string::npos);
  CHECK(r.device_id == d.id);
  Exec(b, "ALTER TABLE certificates_away RENAME TO certificates");
  CHECK(b.Rows("issuance_intents", "kind = 'reenroll'") == 0);
  Expect(b, renew, EnrollCode::kIssued);
}

TEST_CASE("a full store (the event log has no id left): 503, nothing written") {
  Bench b;
  b.Start();
  Device d = b.NewDevice();
  const std::string hash = "X'" + std::string(64, 'c') + "'";  // 32 bytes
  Exec(b, "INSERT INTO enrollment_events (id, time, peer, presented_fingerprint, "
          "presented_subject, device_id, endpoint, outcome, http_status, reason, "
          "row_hash) VALUES (9223372036854775807, '2026-05-01T00:00:00Z', '', NULL, '', '', '', "
          "'refused', 0, '', " + hash + ")");
  EnrollResult r = Expect(b, b.Request(d), EnrollCode::kStoreUnavailable);
  CHECK(r.detail.find("no id left") != std::string::npos);
  CHECK(b.Rows("certificates") == 0);
  CHECK(b.Rows("issuance_intents") == 0);
}
