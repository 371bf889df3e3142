// schema_rollover.h — the migration that adds CA generations (#19 part 3: CA rollover), SQLite and
// PostgreSQL, each kept in a file of its own. Private to db/; run by db/schema.cc and
// db/pg_schema.cc.
#pragma once

#include <sqlite3.h>

#include "db/records.h"

namespace db {

class PgConn;

// The schema versions this migration starts from (tests that build an older store use these).
inline constexpr int kRolloverFromVersion = 8;
inline constexpr int kPgRolloverFromVersion = 5;

// Inside the caller's write transaction: ca_generations with its partial unique indexes,
// certificates.ca_gen (1 for every certificate already issued) and cacerts_fetches.
Result<void> MigrateAddCaGenerations(sqlite3* db);
Result<void> PgMigrateAddCaGenerations(PgConn& db);

}  // namespace db
