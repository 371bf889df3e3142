// admin_writes.h — the operator's changes as the tests make them: through the store's one write
// path for each, the *Recorded form `provisiond deny-bootstrap | block | unblock |
// grant-rebootstrap` uses (db/store.h), with an admin event like the command's at the change's
// time.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "db/store.h"

namespace db::testing {

inline EventRecord TestAdminEvent(std::string_view at, std::string_view outcome) {
  return EventRecord{.time = std::string(at),
                     .peer = "local",
                     .endpoint = "admin",
                     .outcome = std::string(outcome),
                     .reason = "test"};
}

inline Result<void> DenyAsAdmin(Store& store, const DenyEntry& entry) {
  return store.DenyBootstrapRecorded(entry, TestAdminEvent(entry.added_at, "denied"));
}

inline Result<bool> BlockAsAdmin(Store& store, std::string_view device_id, std::string_view reason,
                                 std::string_view blocked_at) {
  return store.BlockDeviceRecorded(device_id, reason, blocked_at,
                                   TestAdminEvent(blocked_at, "blocked"));
}

inline Result<bool> UnblockAsAdmin(Store& store, std::string_view device_id,
                                   std::string_view reason, std::string_view lifted_at) {
  return store.UnblockDeviceRecorded(device_id, reason, lifted_at,
                                     TestAdminEvent(lifted_at, "unblocked"));
}

inline Result<std::optional<RebootstrapGrant>> GrantAsAdmin(Store& store,
                                                            const RebootstrapGrant& grant) {
  return store.GrantRebootstrapRecorded(grant, [](const RebootstrapGrant& stored) {
    return TestAdminEvent(stored.granted_at, "granted");
  });
}

}  // namespace db::testing
