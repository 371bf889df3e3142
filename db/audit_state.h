// audit_state.h — state changes in the enrollment_events hash chain ("state" events) and the
// cross-check of the state tables against them (part of Store::VerifyAuditChain).
// Private to db/.
//
// A state event is a chained enrollment_events row (db/audit.h) with endpoint 'state',
// http_status 0, serial NULL, the device id when there is one, and as outcome and reason:
//   intent      serial="S" device_id="D" kind="K" public_key_sha256="P"
//               auth_cert_fingerprint="A" profile="L" tbs_sha256="H"   (Reserve, with the intent;
//               since schema version 6 recorded compact: serial="S" state_sha256="<SHA-256 of
//               that text>", which binds the same fields in 40% of the bytes)
//   revoked     serial="S" revoked_at="T" reason="N"           (per certificate / intent revoked)
//   denylisted  id="I" fingerprint="F" issuer="X" serial="S" reason="R" added_at="T"
//   blocked     id="I" device_id="D" reason="R" blocked_at="T"
//   unblocked   id="I" device_id="D" reason="R" lifted_at="T"
//   rebootstrap_granted  id="I" device_id="D" reason="R" granted_at="T" expires_at="E"
//                        revoke_previous="0|1"                 (GrantRebootstrapRecorded)
//   rebootstrap_spent    id="I" device_id="D" serial="S" spent_at="T"  (Reserve that spent it)
// Each value is quoted, with '"' and '\' escaped by a '\', so one text names one state. The text
// is a function of the row alone, so VerifyStateAgainstChain recomputes it from each row and
// compares the two sets: a row the chain does not record as it is now (revoked_at cleared or
// changed, TBS edited, a denylist row or block inserted by hand) and a state event whose row is
// gone or changed (a denylist row deleted, a block deleted or un-lifted) both show. Rows that
// existed at migration 4 were recorded by it (BackfillStateEvents): the chain vouches for them
// from then on. An issued intent leaves no row (schema version 6): its state event is rebuilt from
// its certificate (device, kind, key, authenticating certificate, profile, tbs_sha256), so an
// edited certificate row shows too, and so does a serial both issued and pending. What the chain
// cannot show (its newest rows truncated, or all of it rewritten) db/audit.h describes; the state
// events share those limits.
#pragma once

#include <sqlite3.h>

#include <string>
#include <unordered_set>
#include <string_view>

#include "db/statement.h"
#include "db/records.h"
#include "db/row_view.h"

namespace db {

// Appends key="value" to a state event's text, '"' and '\\' escaped, fields joined by one space
// (every state event's form, also the manifests', manifest_state.cc).
void AppendValue(std::string& out, std::string_view key, std::string_view value);
EventRecord IntentStateEvent(const Intent& intent);
// The same with the TBS's hash given (lowercase hex): an issued intent has only the hash.
EventRecord IntentStateEvent(const Intent& intent, std::string_view tbs_sha256);
// What Reserve records (schema version 6): the same event with reason
// `serial="S" state_sha256="H"`, H the SHA-256 of IntentStateEvent's reason. VerifyStateAgainstChain
// accepts either form for an intent.
EventRecord CompactIntentStateEvent(const Intent& intent);
// That reason alone, from the full one: `serial="S" state_sha256="<SHA-256 of full_reason>"`.
std::string CompactIntentReason(std::string_view serial_hex, std::string_view full_reason);
EventRecord RevokedStateEvent(std::string_view serial_hex, std::string_view device_id,
                              std::string_view revoked_at, int reason);
// The same with the reason as the row's text ("" for a NULL one), as the cross-check reads it.
EventRecord RevokedStateEvent(std::string_view serial_hex, std::string_view device_id,
                              std::string_view revoked_at, std::string_view reason);
EventRecord DeniedStateEvent(int64_t id, const DenyEntry& entry);
EventRecord BlockedStateEvent(const DeviceBlock& block);
// block.lifted_at and block.lift_reason must be set.
EventRecord UnblockedStateEvent(const DeviceBlock& block);
EventRecord GrantedStateEvent(const RebootstrapGrant& grant);
// grant.spent_at and grant.spent_serial must be set.
EventRecord SpentStateEvent(const RebootstrapGrant& grant);

// Migration 4: one state event for every intent, revocation (certificates and intents) and
// denylist row already in the file. The caller owns the transaction.
Result<void> BackfillStateEvents(sqlite3* db);

// Compares the state tables with the chain's state events; on the first difference sets
// report.ok = false, report.problem (naming the row) and report.first_bad_id (the event, if any).
// Leaves a report that is already not ok alone. Run it in the snapshot the chain was read in.
// `query` runs in the snapshot the chain was read in; the same check serves every backend.
Result<void> VerifyStateAgainstChain(const RowQuery& query, AuditReport& report);

// "outcome reason" of every state event the tables' rows call for now (an intent's full and
// compact forms both): what tidy's CarryLiveState keeps in the chain (db/audit_tidy.h).
Result<std::unordered_set<std::string>> LiveStateKeys(const RowQuery& query);

}  // namespace db
