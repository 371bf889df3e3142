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

}  // namespace db
