// audit_tidy.h — retention in the audit chain: the state events tidy writes, how the state
// cross-check (audit_state.h) reads them, and the base of a truncated chain. Private to db/.
//
// tidy removes a row whose own state events (its "intent", its "revoked") may still be in the
// chain, so in the transaction that removes it, it appends (endpoint 'state', http_status 0):
//   tidied      serial="S" not_after="T"                     (a reenroll certificate or intent)
//   tombstoned  serial="S" not_after="T" device_id="D" auth_cert_fingerprint="F"
//               (a kind='enroll' one: the event records the enroll_tombstones row it leaves)
// The cross-check then (ForgetTidied) drops every "intent" and "revoked" event of a serial that
// a tidied or tombstoned event names, and never asks a "tidied" event for a row; a tombstone row
// is state like any other (TombstoneState), matched with its "tombstoned" event. So a removed
// row's events are accounted for, an enroll_tombstones row deleted or edited by hand shows, and
// a certificate deleted by hand (no tidied event) still shows as its events matching no row.
// Truncating the chain (Store::TruncateChain) keeps it verifiable in two ways: the walk starts at
// the base (ChainBase: first id, prev_hash) instead of genesis, and before it, CarryLiveState
// copies every state event below the cut that still has a row to the head, so every row keeps
// an event that records it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "db/records.h"
#include "db/row_view.h"
#include "db/tidy_records.h"

namespace db {

EventRecord TidiedStateEvent(std::string_view serial_hex, std::string_view device_id,
                             std::string_view not_after, std::string_view tidied_at);
EventRecord TombstonedStateEvent(std::string_view serial_hex, std::string_view device_id,
                                 std::string_view auth_cert_fingerprint,
                                 std::string_view not_after, std::string_view tidied_at);

// `recorded` maps "outcome reason" of each state event to its id (audit_state.cc): drops the
// "tidied" events and every "intent" / "revoked" event of a serial a tidied or tombstoned event
// names.
void ForgetTidied(std::unordered_map<std::string, int64_t>& recorded);

// Each enroll_tombstones row as the "tombstoned" event that should record it, with its name.
Result<void> TombstoneState(const RowQuery& query,
                            std::vector<std::pair<EventRecord, std::string>>& out);

// The chain's base (audit_chain_base), or the genesis one when it has no row.
Result<ChainBase> ReadChainBase(const RowQuery& query);

}  // namespace db
