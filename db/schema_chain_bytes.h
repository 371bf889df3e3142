// schema_chain_bytes.h — the migration that stores the audit chain's hashes as 32 bytes instead of
// 64 hex characters (issue #18, storage per enrollment), SQLite and PostgreSQL. Private to db/;
// run by db/schema.cc and db/pg_schema.cc.
#pragma once

#include <sqlite3.h>

#include "db/records.h"

namespace db {

class PgConn;

// The schema versions this migration starts from (tests that build an older store use these).
inline constexpr int kChainBytesFromVersion = 10;
inline constexpr int kPgChainBytesFromVersion = 7;

// Inside the caller's write transaction: enrollment_events.prev_hash and row_hash become BLOB /
// bytea of exactly 32 bytes (CHECK), every row converted in place (same ids, same order, same
// hashes: the chain's rule, db/audit.h, hashes the hex form, which is what the bytes read back
// as). A value that is not 64 lowercase hex characters fails the migration (NOT NULL) rather than
// being dropped. SQLite rebuilds the table (a STRICT column's type cannot change in place) and its
// three indexes, so db/schema.cc runs it with foreign keys off (enrollment_events.serial
// references certificates, and tidy's deletions may have left issued events of removed
// certificates); PostgreSQL changes the column types (a rewrite of the table and its indexes).
Result<void> MigrateChainBytes(sqlite3* db);
// Runs `sql` with the SQL function provisiond_hash_bytes(hex) registered on `db` (the 32 bytes of
// a 64-character lowercase hex value, ChainHashBytes; NULL for anything else), then unregistered.
// Migrations 11 and 13 (schema_sha256_bytes.h) convert their columns with it.
Result<void> ExecWithHashBytes(sqlite3* db, const char* sql);
Result<void> PgMigrateChainBytes(PgConn& db);

}  // namespace db
