// pg_schema_manifest.cc — PostgreSQL migration: factory manifests, the same tables, constraints
// and indexes as SQLite's (db/schema_manifest.cc says which invariants they hold).
#include <array>

#include "db/pg_conn.h"
#include "db/schema_manifest.h"

namespace db {
namespace {

// clang-format off
constexpr std::array kMigration = {
R"sql(CREATE TABLE manifest_batches (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name text COLLATE "C" NOT NULL UNIQUE CHECK (name <> ''),
  file_sha256 text NOT NULL CHECK (file_sha256 ~ '^[0-9a-f]{64}$'),
  row_count bigint NOT NULL CHECK (row_count > 0),
  imported_at text COLLATE "C" NOT NULL
    CHECK (imported_at ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$')
))sql",
R"sql(CREATE TABLE manifest_devices (
  batch_id bigint NOT NULL REFERENCES manifest_batches (id),
  device_id text COLLATE "C" NOT NULL UNIQUE CHECK (device_id <> ''),
  bootstrap_sha256 text NOT NULL UNIQUE CHECK (bootstrap_sha256 ~ '^[0-9a-f]{64}$')
))sql",
"CREATE INDEX manifest_devices_batch_id ON manifest_devices (batch_id)",
"CREATE INDEX enrollment_events_presented_fingerprint ON enrollment_events "
"(presented_fingerprint) WHERE presented_fingerprint <> ''",
};
// clang-format on

}  // namespace

Result<void> PgMigrateAddManifests(PgConn& db) {
  for (const char* sql : kMigration) {
    if (auto r = db.Run(sql); !r) return std::unexpected(r.error());
  }
  return {};
}

}  // namespace db
