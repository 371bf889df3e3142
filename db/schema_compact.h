// schema_compact.h — SQLite migration 5, kept in its own file: the storage an enrollment leaves
// (an issued intent's TBS, indexes no statement reads). Private to db/; run by db/schema.cc.
#pragma once

#include <sqlite3.h>

#include "db/sqlite_store.h"

namespace db {

// Inside the caller's write transaction: rebuilds issuance_intents with tbs NULL-able and a
// tbs_sha256 column (every issued intent's TBS replaced by its hash), makes the intent lookup
// indexes partial (pending rows only) and drops three enrollment_events indexes.
Result<void> MigrateToV5Compact(sqlite3* db);

}  // namespace db
