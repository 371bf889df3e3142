// revoke_recorded_test.cc — Store::RevokeRecorded, what `provisiond revoke` writes: the revocation,
// its state events and the operator's admin event in one transaction, per backend (backend.h).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "db/store.h"
#include "tests/db/backend.h"

namespace db::testing {
namespace {

constexpr const char* kAt = "2026-09-01T00:00:00Z";

EventRecord AdminEventAt(std::string time, int changed) {
  return EventRecord{.time = std::move(time),
                     .peer = "local",
                     .endpoint = "admin",
                     .outcome = "revoked",
                     .reason = "count=" + std::to_string(changed)};
}

std::vector<EventRecord> Events(Store& store) {
  auto events = store.RecentEvents(100);
  REQUIRE_MESSAGE(events.has_value(), (events ? "" : events.error().detail));
  return *events;
}

TEST_CASE_TEMPLATE("RevokeRecorded: the revocation and its admin event commit together", Backend,
                   PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = Backend::Open(dir);
  Issue(*store, EnrollCertificate(1, 1, "device-a", HashHex(1, 'c')));
  Issue(*store, EnrollCertificate(2, 2, "device-a", HashHex(2, 'c')));
  const size_t events_before = Events(*store).size();

  SUBCASE("a failure after the revocation's UPDATE (the admin event's insert) leaves nothing") {
    // enrollment_events.time is CHECKed as ISO 8601 UTC on both engines: this insert fails after
    // both certificates were updated and their state events appended, inside the transaction.
    int built_for = -1;
    auto failed =
        store->RevokeRecorded(Store::RevokeBy::kDevice, "device-a", 1, kAt, [&](int changed) {
          built_for = changed;
          return AdminEventAt("not a time", changed);
        });
    REQUIRE_FALSE(failed.has_value());
    CHECK(failed.error().code == Code::kConstraint);
    CHECK(built_for == 2);  // the event was built after both rows were revoked
    // Neither the revocations nor their state events nor the admin event were written.
    CHECK(store->CertificateStatus(SerialHex(1)).value() == CertStatus::kActive);
    CHECK(store->CertificateStatus(SerialHex(2)).value() == CertStatus::kActive);
    CHECK(Events(*store).size() == events_before);
    CHECK(store->RevocationCount().value() == 0);
  }

  SUBCASE("success: the rows' state events, then the admin event, and the chain verifies") {
    auto n = store->RevokeRecorded(Store::RevokeBy::kSerial, SerialHex(2), 4, kAt,
                                   [](int changed) { return AdminEventAt(kAt, changed); });
    REQUIRE_MESSAGE(n.has_value(), (n ? "" : n.error().detail));
    CHECK(*n == 1);
    CHECK(store->CertificateStatus(SerialHex(1)).value() == CertStatus::kActive);
    CHECK(store->CertificateStatus(SerialHex(2)).value() == CertStatus::kRevoked);
    const std::vector<EventRecord> events = Events(*store);  // newest first
    REQUIRE(events.size() == events_before + 2);
    CHECK(events[0].endpoint == "admin");
    CHECK(events[0].reason == "count=1");
    CHECK(events[1].endpoint == "state");  // the row's "revoked" state event, just before
    auto report = store->VerifyAuditChain();
    REQUIRE(report.has_value());
    CHECK_MESSAGE(report->ok, report->problem);

    // Nothing left to revoke: still one transaction, the admin event says count=0.
    n = store->RevokeRecorded(Store::RevokeBy::kSerial, SerialHex(2), 4, kAt,
                              [](int changed) { return AdminEventAt(kAt, changed); });
    REQUIRE(n.has_value());
    CHECK(*n == 0);
    CHECK(Events(*store)[0].reason == "count=0");
  }
}

}  // namespace
}  // namespace db::testing
