// operations.h — the write operations and the intent queries, each run on a connection whose
// caller owns the transaction: SqliteStore's one-shot methods wrap each write in its own BEGIN
// IMMEDIATE, the Writer (writer.cc) runs many under one.
// Private to db/.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "db/records.h"
#include "db/statement.h"

namespace db {

// --- Writes: each assumes an open write transaction (BEGIN IMMEDIATE) and writes nothing on
// --- failure only if the caller rolls back (to a savepoint, or the whole transaction).

// Store::Reserve's checks and insert (store.h lists them). Writes only for kReserved.
Result<IssueOutcome> ReserveInTxn(Connection& db, const Intent& intent,
                                  const IssuancePolicy& policy);
// Store::Complete's checks, the certificate + event insert and the intent's move to 'issued'.
Result<void> CompleteInTxn(Connection& db, const CertificateRecord& cert, const EventRecord& event);
// Store::Complete's comparison: kConstraint naming the first field in which the signed
// certificate differs from its intent (every backend's Complete runs it).
Result<void> CheckMatchesIntent(const CertificateRecord& cert, const Intent& intent);
// Store::RecordEvent's body.
Result<void> RecordEventInTxn(Connection& db, const EventRecord& event);

// --- Status checks (blocks.cc, lifecycle.cc), run inside the caller's transaction.

// Checks 0a-0c of Store::Reserve (store.h): kDeviceBlocked, kAuthRevoked (kind "reenroll"),
// kAuthDenylisted (kind "enroll"); nullopt when none applies.
Result<std::optional<Decision>> StatusRefusal(Connection& db, std::string_view kind,
                                              std::string_view device_id,
                                              std::string_view auth_fingerprint,
                                              std::string_view auth_issuer,
                                              std::string_view auth_serial);
// Store::IsBootstrapDenied's query.
Result<bool> BootstrapDenied(Connection& db, std::string_view fingerprint, std::string_view issuer,
                             std::string_view serial_hex);

// A row an UPDATE ... RETURNING revoked: what its "revoked" state event needs.
struct RevokedRow {
  std::string serial_hex;
  std::string device_id;
};
// Steps a "... RETURNING serial, device_id" statement (parameters bound) to the end.
Result<std::vector<RevokedRow>> ReadRevokedRows(Statement& stmt);

// --- Intent rows (intents.cc).

// true if `serial_hex` is an intent's serial.
Result<bool> IntentExists(Connection& db, std::string_view serial_hex);
// Inserts `intent` with status 'pending' (intent.status and revocation are ignored).
Result<void> InsertPendingIntent(Connection& db, const Intent& intent);
// The newest pending, unrevoked kind='enroll' intent with this bootstrap fingerprint and key.
Result<std::optional<Intent>> PendingSameKeyEnrollIntent(Connection& db,
                                                         std::string_view auth_cert_fingerprint,
                                                         std::string_view public_key_sha256);
// Every pending intent, oldest first.
Result<std::vector<Intent>> SelectPendingIntents(Connection& db);
// nullopt: no intent with this serial; else whether it is revoked.
Result<std::optional<bool>> IntentRevoked(Connection& db, std::string_view serial_hex);
// Revoked pending intents with not_after > now_iso, as CRL records (store.h), by not_after.
Result<std::vector<CertificateRecord>> RevokedUnexpiredIntents(Connection& db,
                                                               std::string_view now_iso);
// Revokes the pending, unrevoked intent with this serial / every one of this device; returns
// the rows changed.
Result<std::vector<RevokedRow>> RevokePendingIntentsBySerial(Connection& db,
                                                             std::string_view serial_hex,
                                                             int reason,
                                                             std::string_view revoked_at);
Result<std::vector<RevokedRow>> RevokePendingIntentsByDevice(Connection& db,
                                                             std::string_view device_id, int reason,
                                                             std::string_view revoked_at);

}  // namespace db
