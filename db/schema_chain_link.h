// schema_chain_link.h — the migration that drops enrollment_events.prev_hash (issue #18, storage
// per enrollment): a row's link is the previous row's row_hash, which the walk reads anyway.
// SQLite and PostgreSQL. Private to db/; run by db/schema.cc and db/pg_schema.cc.
#pragma once

#include <sqlite3.h>

#include "db/records.h"

namespace db {

class PgConn;

// The schema versions this migration starts from (tests that build an older store use these).
inline constexpr int kChainLinkFromVersion = 11;
inline constexpr int kPgChainLinkFromVersion = 8;

// Inside the caller's write transaction: enrollment_events loses its prev_hash column; every row
// keeps its id, its covered columns and its row_hash, so the chain's hashes (which still cover
// the previous row's row_hash, db/audit.h) and every checkpoint of them stay valid. The column
// held nothing the walk cannot read from the row before (or, for the first row of a truncated
// chain, from audit_chain_base.prev_hash, which stays). SQLite: ALTER TABLE ... DROP COLUMN (its
// rows rewritten in place, no index involved); PostgreSQL: DROP COLUMN (no rewrite: existing rows
// keep the bytes until updated or VACUUM FULL, new rows do not store them).
Result<void> MigrateChainLink(sqlite3* db);
Result<void> PgMigrateChainLink(PgConn& db);

}  // namespace db
