// pg_schema_grants.h — the PostgreSQL schema step that adds re-bootstrap grants, as SQLite's
// db/schema_grants.h. Private to db/; run by db/pg_schema.cc.
#pragma once

#include "db/pg_conn.h"

namespace db {

// The PostgreSQL schema version this step starts from (tests that migrate across it use this).
inline constexpr int kPgGrantsFromVersion = 3;

// Inside the caller's transaction: creates rebootstrap_grants and its index.
Result<void> PgMigrateAddGrants(PgConn& db);

}  // namespace db
