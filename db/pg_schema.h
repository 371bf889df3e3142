// pg_schema.h — the PostgreSQL schema: its version, kept in the database (schema_version), the
// migrations that create it (PgStore::Migrate) and the check PgStore::Open makes.
// Private to db/.
#pragma once

#include "db/pg_conn.h"

namespace db {

// The version of the PostgreSQL schema this program writes (table schema_version, one row).
inline constexpr int kPgSchemaVersion = 10;

// The database's schema version: 0 when it has no schema_version table (a new database).
Result<int> PgSchemaVersion(PgConn& db);

// Applies the migrations from the database's version up to `target_version` (<= kPgSchemaVersion),
// each in its own transaction holding a transaction-scoped advisory lock, so two `migrate` runs
// (two replicas) apply each step once. kSchema if the database is newer than this program.
Result<void> PgMigrateTo(PgConn& db, int target_version);

// kSchema unless the database is exactly at kPgSchemaVersion, naming both versions and, for an
// older one, the command that upgrades it.
Result<void> PgCheckSchema(PgConn& db);

}  // namespace db
