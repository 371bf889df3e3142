// schema_manifest.h — the migration that adds factory manifests (#19 part 2), SQLite and
// PostgreSQL, each kept in a file of its own. Private to db/; run by db/schema.cc and
// db/pg_schema.cc.
#pragma once

#include <sqlite3.h>

#include "db/records.h"

namespace db {

class PgConn;

// The schema versions this migration starts from (tests that build an older store use these).
inline constexpr int kManifestsFromVersion = 7;
inline constexpr int kPgManifestsFromVersion = 4;

// Inside the caller's write transaction: manifest_batches, manifest_devices and their indexes,
// and the partial index on enrollment_events(presented_fingerprint) the report reads.
Result<void> MigrateAddManifests(sqlite3* db);
Result<void> PgMigrateAddManifests(PgConn& db);

}  // namespace db
