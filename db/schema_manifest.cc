// schema_manifest.cc — SQLite migration: factory manifests (schema_manifest.h).
#include "db/schema_manifest.h"

#include "db/statement.h"

namespace db {
namespace {

// clang-format off (the SQL below is laid out for reading, as `.schema` shows it)
#define PROVISIOND_ISO8601_GLOB \
  "'[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]Z'"
#define PROVISIOND_SHA256(column) \
  "(length(" column ") = 64 AND " column " NOT GLOB '*[^0-9a-f]*')"

// Invariants the constraints hold:
//   - a batch name is unique; a batch has at least one row; its rows, file hash and time are
//     recorded in the audit chain by its "manifest_imported" state event (db/manifest_state.h).
//   - a device id and a bootstrap certificate (lowercase hex SHA-256 of its DER) are each in at
//     most one batch (UNIQUE), so the lookup at enrollment is one probe and the report's counts
//     add up, whichever connection or replica imports.
//   - rows are never updated or deleted by provisiond.
// enrollment_events_presented_fingerprint (dropped by version 5, which no statement then read)
// comes back as a partial index of the attempts that presented a certificate: `manifest report`
// asks, per manifest row, whether its certificate was ever seen, and counts the attempts by
// certificates in no manifest.
constexpr const char* kMigration = R"sql(
CREATE TABLE manifest_batches (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE CHECK (name <> ''),
  file_sha256 TEXT NOT NULL CHECK )sql" PROVISIOND_SHA256("file_sha256") R"sql(,
  row_count INTEGER NOT NULL CHECK (row_count > 0),
  imported_at TEXT NOT NULL CHECK (imported_at GLOB )sql" PROVISIOND_ISO8601_GLOB R"sql()
) STRICT;
CREATE TABLE manifest_devices (
  batch_id INTEGER NOT NULL REFERENCES manifest_batches (id),
  device_id TEXT NOT NULL UNIQUE CHECK (device_id <> ''),
  bootstrap_sha256 TEXT NOT NULL UNIQUE CHECK )sql" PROVISIOND_SHA256("bootstrap_sha256") R"sql(
) STRICT;
CREATE INDEX manifest_devices_batch_id ON manifest_devices (batch_id);
CREATE INDEX enrollment_events_presented_fingerprint ON enrollment_events (presented_fingerprint)
  WHERE presented_fingerprint <> '';
)sql";

#undef PROVISIOND_SHA256
#undef PROVISIOND_ISO8601_GLOB
// clang-format on

}  // namespace

Result<void> MigrateAddManifests(sqlite3* db) { return Exec(db, kMigration); }

}  // namespace db
