// schema_grants.h — the schema step that adds re-bootstrap grants (rebootstrap_grants, issue #19
// part 1), for SQLite; PostgreSQL's is db/pg_schema_grants.h. Private to db/; run by db/schema.cc.
#pragma once

#include <sqlite3.h>

#include "db/sqlite_store.h"

namespace db {

// The SQLite schema version this step starts from (tests that migrate across it use this).
inline constexpr int kGrantsFromVersion = 6;

// Inside the caller's write transaction: creates rebootstrap_grants and its indexes.
Result<void> MigrateAddGrants(sqlite3* db);

}  // namespace db
