// schema_lean.h — SQLite migration "lean enrollments", kept in its own file: an issued intent
// leaves no row (its certificate carries the TBS hash), and the events' time index holds only
// what the README's query reads. Private to db/; run by db/schema.cc.
#pragma once

#include <sqlite3.h>

#include "db/sqlite_store.h"

namespace db {

// The schema version this migration starts from (tests migrate a file to it, then run it).
inline constexpr int kLeanFromVersion = 5;

// Inside the caller's write transaction: adds certificates.tbs_sha256 (copied from each issued
// intent), deletes the issued intents, and makes enrollment_events_time partial
// (outcome <> 'issued').
Result<void> MigrateLeanEnrollments(sqlite3* db);

}  // namespace db
