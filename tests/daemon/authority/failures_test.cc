// failures_test.cc — the issuance's failure steps (daemon/authority/issuance.cc): a failed
// reserve, a failed sign, a failed complete. In each the device gets no certificate, and what the
// store keeps is checked; a retry with the same key resumes an interrupted issuance only when its
// recorded TBS is what would be built now.
#include <doctest/doctest.h>

#include "daemon/authority/enrollment.h"
#include "tests/daemon/authority/bench.h"

using namespace authoritytest;

TEST_CASE("failed reserve: the queue refuses it (overload); nothing written, 503") {
  Bench b;
  b.Start();
  Device d = b.NewDevice();
  b.queue.refuse_reserve = true;
  CHECK(Expect(b, b.Request(d), EnrollCode::kStoreUnavailable).detail ==
        "issuance queue full (overload)");
  CHECK(b.Rows("issuance_intents") == 0);
  CHECK(b.Rows("certificates") == 0);
  b.queue.refuse_reserve = false;
  Expect(b, b.Request(d), EnrollCode::kIssued);
}

TEST_CASE("failed reserve: the store refuses the intent's insert; nothing written, 500") {
  Bench b;
  b.Start();
  Device d = b.NewDevice();
  Exec(b, "CREATE TRIGGER fail_reserve BEFORE INSERT ON issuance_intents "
          "BEGIN SELECT RAISE(ABORT, 'injected reserve failure'); END");
  EnrollResult r = Expect(b, b.Request(d), EnrollCode::kStoreFailed);
  CHECK(r.detail.find("injected reserve failure") != std::string::npos);
  CHECK(b.Rows("issuance_intents") == 0);
  CHECK(b.Rows("certificates") == 0);
}

TEST_CASE("failed sign: no certificate, the intent stays pending; the same-key retry resumes it") {
  Bench b;
  b.Start();
  Device d = b.NewDevice();
  const std::string serial = InterruptedBySigning(b, b.Request(d));
  REQUIRE_FALSE(serial.empty());
  CHECK(b.Rows("certificates") == 0);
  CHECK(b.Rows("issuance_intents", "status = 'pending' AND revoked_at IS NULL") == 1);
  b.time.Advance(600);  // a retry a little later finishes THAT issuance, with its serial
  EnrollResult r = Expect(b, b.Request(d), EnrollCode::kIssued);
  CHECK(r.serial_hex == serial);
  CHECK(b.Rows("issuance_intents") == 0);  // issued: its row is gone
  CHECK(b.Rows("certificates", "serial = '" + serial + "'") == 1);
}

TEST_CASE("resume: an intent no longer what would be built now is not signed (intent mismatch)") {
  Bench b;
  b.Start();
  Device d = b.NewDevice();
  const std::string serial = InterruptedBySigning(b, b.Request(d));
  b.config.default_profile.organization = "Changed Since";  // the profile changed meanwhile
  EnrollResult r = Expect(b, b.Request(d), EnrollCode::kIntentMismatch);
  CHECK(r.serial_hex == serial);
  CHECK(b.Rows("certificates") == 0);
  CHECK(b.Rows("issuance_intents", "status = 'pending'") == 1);
  b.config.default_profile.organization = "";
  b.time.Advance(8 * catest::kDay);  // older than a resume may be
  Expect(b, b.Request(d), EnrollCode::kIntentMismatch);
  b.time.Advance(-8 * catest::kDay);
  Expect(b, b.Request(d), EnrollCode::kIssued);
}

TEST_CASE("failed complete: the intent revoked between Reserve and Complete; nothing sent") {
  Bench b;
  b.Start();
  Device d = b.NewDevice();
  std::optional<EnrollResult> later;
  auto now = b.enroller->Enroll(b.Request(d), [&later](EnrollResult r) { later = std::move(r); });
  REQUIRE_FALSE(now.has_value());
  b.inbox.WaitPosted();  // Reserve committed; its answer waits for this thread
  const std::string serial = PendingSerial(b);
  REQUIRE(b.store->RevokeSerial(serial, 1, "2026-05-01T00:00:00Z").value() == 1);
  b.inbox.RunUntil([&] { return later.has_value(); });
  CHECK(later->code == EnrollCode::kStoreFailed);
  CHECK(later->der.empty());
  CHECK(b.Rows("certificates") == 0);
  CHECK(b.Rows("issuance_intents", "status = 'pending' AND revoked_at IS NOT NULL") == 1);
}

TEST_CASE("failed complete: the store refuses the certificate row; the intent stays pending") {
  Bench b;
  b.Start();
  Device d = b.NewDevice();
  Exec(b, "CREATE TRIGGER fail_complete BEFORE INSERT ON certificates "
          "BEGIN SELECT RAISE(ABORT, 'injected complete failure'); END");
  EnrollResult r = Expect(b, b.Request(d), EnrollCode::kStoreFailed);
  CHECK(r.detail.find("injected complete failure") != std::string::npos);
  CHECK(b.Rows("certificates") == 0);
  const std::string serial = PendingSerial(b);
  CHECK_FALSE(serial.empty());
  Exec(b, "DROP TRIGGER fail_complete");
  CHECK(Expect(b, b.Request(d), EnrollCode::kIssued).serial_hex == serial);  // resumed
}

TEST_CASE("failed complete: the queue refuses it; the intent stays pending, 503") {
  Bench b;
  b.Start();
  Device d = b.NewDevice();
  b.queue.refuse_complete = true;
  EnrollResult r = Expect(b, b.Request(d), EnrollCode::kStoreUnavailable);
  CHECK(r.detail.ends_with(" left pending"));
  CHECK(b.Rows("certificates") == 0);
  CHECK(b.Rows("issuance_intents", "status = 'pending'") == 1);
}

TEST_CASE("two same-key attempts at once: the one that resumed the other's intent answers with "
          "the certificate the other completed") {
  Bench b;
  b.Start();
  Device d = b.NewDevice();
  const EnrollRequest req1 = b.Request(d), req2 = b.Request(d);
  std::optional<EnrollResult> first, second;
  REQUIRE_FALSE(b.enroller->Enroll(req1, [&](EnrollResult r) { first = std::move(r); }));
  b.inbox.WaitPosted();  // the first's intent is committed; its signing waits in the inbox
  REQUIRE_FALSE(b.enroller->Enroll(req2, [&](EnrollResult r) { second = std::move(r); }));
  b.inbox.RunUntil([&] { return first.has_value() && second.has_value(); });
  CHECK_MESSAGE(first->code == EnrollCode::kIssued, first->detail);
  CHECK_MESSAGE(second->code == EnrollCode::kAlreadyIssued, second->detail);
  CHECK(second->der == first->der);
  CHECK(second->serial_hex == first->serial_hex);
  CHECK(b.Rows("certificates") == 1);
  CHECK(b.Rows("issuance_intents") == 0);  // issued: its row is gone
}
