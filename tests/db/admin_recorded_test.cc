// admin_recorded_test.cc — the *Recorded forms of the operator's changes (store.h): what
// `provisiond deny-bootstrap | block | unblock | grant-rebootstrap` write, the change, its state
// event and the operator's admin event in one transaction, per backend (backend.h). The failure
// is the admin event's own insert (its time is CHECKed as ISO 8601 UTC on both engines), the
// last statement of the transaction: nothing of the change may stay.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "db/store.h"
#include "tests/db/admin_writes.h"
#include "tests/db/backend.h"

namespace db::testing {
namespace {

constexpr const char* kAt = "2026-09-01T00:00:00Z";
constexpr const char* kLater = "2026-09-02T00:00:00Z";
constexpr const char* kBadTime = "not a time";

std::vector<EventRecord> Events(Store& store) {
  auto events = store.RecentEvents(100);
  REQUIRE_MESSAGE(events.has_value(), (events ? "" : events.error().detail));
  return *events;
}

// After a success: the newest event is the operator's, right after the change's state event,
// and the chain (with its state cross-check) verifies.
void CheckRecorded(Store& store, size_t events_before, const std::string& outcome) {
  const std::vector<EventRecord> events = Events(store);  // newest first
  REQUIRE(events.size() == events_before + 2);
  CHECK(events[0].endpoint == "admin");
  CHECK(events[0].outcome == outcome);
  CHECK(events[1].endpoint == "state");
  auto report = store.VerifyAuditChain();
  REQUIRE(report.has_value());
  CHECK_MESSAGE(report->ok, report->problem);
}

TEST_CASE_TEMPLATE("DenyBootstrapRecorded: the denylist row and its admin event commit together",
                   Backend, PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = Backend::Open(dir);
  const DenyEntry entry{.fingerprint = HashHex(7, 'f'), .reason = "stolen", .added_at = kAt};
  const size_t events_before = Events(*store).size();

  SUBCASE("the admin event's insert fails: no row, no state event") {
    auto failed = store->DenyBootstrapRecorded(entry, TestAdminEvent(kBadTime, "denied"));
    REQUIRE_FALSE(failed.has_value());
    CHECK(failed.error().code == Code::kConstraint);
    CHECK(store->ListDenied().value().empty());
    CHECK_FALSE(store->IsBootstrapDenied(entry.fingerprint, "", "").value());
    CHECK(Events(*store).size() == events_before);
  }
  SUBCASE("success") {
    auto done = store->DenyBootstrapRecorded(entry, TestAdminEvent(kAt, "denied"));
    REQUIRE_MESSAGE(done.has_value(), (done ? "" : done.error().detail));
    CHECK(store->IsBootstrapDenied(entry.fingerprint, "", "").value());
    CheckRecorded(*store, events_before, "denied");
  }
}

TEST_CASE_TEMPLATE("BlockDeviceRecorded / UnblockDeviceRecorded: the change and its admin event "
                   "commit together", Backend, PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = Backend::Open(dir);
  const size_t events_before = Events(*store).size();

  SUBCASE("block: the admin event's insert fails: not blocked, no state event") {
    auto failed =
        store->BlockDeviceRecorded("device-a", "lost", kAt, TestAdminEvent(kBadTime, "blocked"));
    REQUIRE_FALSE(failed.has_value());
    CHECK(failed.error().code == Code::kConstraint);
    CHECK_FALSE(store->IsDeviceBlocked("device-a").value());
    CHECK(store->ListBlocks(/*active_only=*/false).value().empty());
    CHECK(Events(*store).size() == events_before);
  }
  SUBCASE("block succeeds; already blocked writes nothing, no event either") {
    auto blocked =
        store->BlockDeviceRecorded("device-a", "lost", kAt, TestAdminEvent(kAt, "blocked"));
    REQUIRE_MESSAGE(blocked.has_value(), (blocked ? "" : blocked.error().detail));
    CHECK(*blocked);
    CHECK(store->IsDeviceBlocked("device-a").value());
    CheckRecorded(*store, events_before, "blocked");
    auto again =
        store->BlockDeviceRecorded("device-a", "lost", kAt, TestAdminEvent(kAt, "blocked"));
    REQUIRE(again.has_value());
    CHECK_FALSE(*again);
    CHECK(Events(*store).size() == events_before + 2);
  }
  SUBCASE("unblock: the admin event's insert fails: still blocked, no state event") {
    REQUIRE(BlockAsAdmin(*store, "device-a", "lost", kAt).value());
    const size_t blocked_events = Events(*store).size();
    auto failed = store->UnblockDeviceRecorded("device-a", "found", kLater,
                                               TestAdminEvent(kBadTime, "unblocked"));
    REQUIRE_FALSE(failed.has_value());
    CHECK(failed.error().code == Code::kConstraint);
    CHECK(store->IsDeviceBlocked("device-a").value());
    auto blocks = store->ListBlocks(/*active_only=*/false).value();
    REQUIRE(blocks.size() == 1);
    CHECK_FALSE(blocks[0].lifted_at.has_value());
    CHECK(Events(*store).size() == blocked_events);
  }
  SUBCASE("unblock succeeds") {
    REQUIRE(BlockAsAdmin(*store, "device-a", "lost", kAt).value());
    const size_t blocked_events = Events(*store).size();
    auto lifted = store->UnblockDeviceRecorded("device-a", "found", kLater,
                                               TestAdminEvent(kLater, "unblocked"));
    REQUIRE_MESSAGE(lifted.has_value(), (lifted ? "" : lifted.error().detail));
    CHECK(*lifted);
    CHECK_FALSE(store->IsDeviceBlocked("device-a").value());
    CheckRecorded(*store, blocked_events, "unblocked");
  }
}

TEST_CASE_TEMPLATE("GrantRebootstrapRecorded: the grant and its admin event commit together",
                   Backend, PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = Backend::Open(dir);
  const RebootstrapGrant grant{.device_id = "device-a", .reason = "factory reset",
                              .granted_at = kAt, .expires_at = kLater};
  const size_t events_before = Events(*store).size();

  SUBCASE("the admin event's insert fails: no grant, no state event") {
    int64_t built_for = 0;
    auto failed = store->GrantRebootstrapRecorded(grant, [&](const RebootstrapGrant& stored) {
      built_for = stored.id;
      return TestAdminEvent(kBadTime, "rebootstrap_granted");
    });
    REQUIRE_FALSE(failed.has_value());
    CHECK(failed.error().code == Code::kConstraint);
    CHECK(built_for > 0);  // built from the inserted row, inside the transaction
    CHECK(store->ListGrants().value().empty());
    CHECK(Events(*store).size() == events_before);
    // Nothing open stays behind: the next grant for the device is not refused as a second one.
    auto next = GrantAsAdmin(*store, grant);
    REQUIRE(next.has_value());
    CHECK(next->has_value());
  }
  SUBCASE("success: the event names the stored grant") {
    auto granted = store->GrantRebootstrapRecorded(grant, [](const RebootstrapGrant& stored) {
      auto event = TestAdminEvent(kAt, "rebootstrap_granted");
      event.reason = "id=" + std::to_string(stored.id);
      return event;
    });
    REQUIRE_MESSAGE(granted.has_value(), (granted ? "" : granted.error().detail));
    REQUIRE(granted->has_value());
    CheckRecorded(*store, events_before, "rebootstrap_granted");
    CHECK(Events(*store)[0].reason == "id=" + std::to_string((*granted)->id));
  }
}

}  // namespace
}  // namespace db::testing
