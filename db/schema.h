// schema.h — the schema migrations and the settings every connection runs with; used by
// SqliteStore::Open. The SQL itself is in schema.cc, the one place to read the schema.
// Private to db/.
#pragma once

#include <sqlite3.h>

#include "db/sqlite_store.h"

namespace db {

inline constexpr int kBusyTimeoutMs = 5000;

// Readies a just-opened connection, in this order: busy_timeout; kSchema if its user_version is
// newer than kSchemaVersion, or older when `existed` and not `upgrade` (the file is left
// untouched); journal_mode=WAL, synchronous=FULL, cell_size_check=ON, foreign_keys=ON; then each
// missing migration in its own transaction. No whole-file check: its cost grows with the file
// (db/store_check.h runs it, in the background of serve and in `provisiond check-store`).
Result<void> PrepareConnection(sqlite3* db, bool existed, bool upgrade);

// Readies a second connection to a file that PrepareConnection already readied (the Writer's):
// busy_timeout, synchronous=FULL, cell_size_check=ON, foreign_keys=ON; kSchema unless the file is
// at kSchemaVersion, kIo unless it is in WAL mode. No migration: the first connection did it.
Result<void> PrepareExtraConnection(sqlite3* db);

// Applies the migrations from the file's user_version up to `target_version` (<= kSchemaVersion),
// each in its own BEGIN IMMEDIATE transaction; a failed one leaves the file at the version before
// it. PrepareConnection migrates to kSchemaVersion; tests use a lower target to build a file as an
// older release left it.
Result<void> MigrateTo(sqlite3* db, int target_version);

}  // namespace db
