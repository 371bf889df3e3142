// schema_rollover.cc — SQLite migration: CA generations (schema_rollover.h).
#include "db/schema_rollover.h"

#include "db/statement.h"

namespace db {
namespace {

// clang-format off (the SQL below is laid out for reading, as `.schema` shows it)
#define PROVISIOND_ISO8601_GLOB \
  "'[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]Z'"
#define PROVISIOND_OPTIONAL_TIME(column) \
  "(" column " IS NULL OR " column " GLOB " PROVISIOND_ISO8601_GLOB ")"

// Invariants the constraints hold (the life is in db/ca_generation_records.h):
//   - at most one generation active, one pending, one previous: a partial UNIQUE index each, so
//     two operators or replicas racing `ca activate` cannot make two active generations, whatever
//     the order their conditional UPDATEs run in.
//   - the state agrees with the times: pending has neither, active and previous were activated
//     and not retired, retired was activated first. Every time is in the audit chain
//     (db/ca_generation_state.h), so an edited one shows in `audit verify`.
//   - generation 1 has no links; every later one has both.
//   - certificates.ca_gen: the generation that signed the certificate (1 for those issued before
//     this version). cacerts_fetches: one row per device and generation, never updated.
constexpr const char* kMigration = R"sql(
CREATE TABLE ca_generations (
  gen INTEGER PRIMARY KEY CHECK (gen >= 1),
  state TEXT NOT NULL CHECK (state IN ('pending', 'active', 'previous', 'retired')),
  cert_sha256 TEXT NOT NULL UNIQUE
    CHECK (length(cert_sha256) = 64 AND cert_sha256 NOT GLOB '*[^0-9a-f]*'),
  cert_der BLOB NOT NULL CHECK (length(cert_der) > 0),
  new_with_old_der BLOB NULL,
  old_with_new_der BLOB NULL,
  key_location TEXT NOT NULL CHECK (key_location <> ''),
  created_at TEXT NOT NULL CHECK (created_at GLOB )sql" PROVISIOND_ISO8601_GLOB R"sql(),
  activated_at TEXT NULL CHECK )sql" PROVISIOND_OPTIONAL_TIME("activated_at") R"sql(,
  retired_at TEXT NULL CHECK )sql" PROVISIOND_OPTIONAL_TIME("retired_at") R"sql(,
  CHECK ((state = 'pending') = (activated_at IS NULL)),
  CHECK ((state = 'retired') = (retired_at IS NOT NULL)),
  CHECK ((gen = 1) = (new_with_old_der IS NULL) AND (gen = 1) = (old_with_new_der IS NULL))
) STRICT;
CREATE UNIQUE INDEX ca_generations_one_active ON ca_generations (state) WHERE state = 'active';
CREATE UNIQUE INDEX ca_generations_one_pending ON ca_generations (state) WHERE state = 'pending';
CREATE UNIQUE INDEX ca_generations_one_previous ON ca_generations (state)
  WHERE state = 'previous';
ALTER TABLE certificates ADD COLUMN ca_gen INTEGER NOT NULL DEFAULT 1 CHECK (ca_gen >= 1);
CREATE TABLE cacerts_fetches (
  ca_gen INTEGER NOT NULL REFERENCES ca_generations (gen),
  device_id TEXT NOT NULL CHECK (device_id <> ''),
  first_at TEXT NOT NULL CHECK (first_at GLOB )sql" PROVISIOND_ISO8601_GLOB R"sql(),
  PRIMARY KEY (ca_gen, device_id)
) STRICT, WITHOUT ROWID;
)sql";

#undef PROVISIOND_OPTIONAL_TIME
#undef PROVISIOND_ISO8601_GLOB
// clang-format on

}  // namespace

Result<void> MigrateAddCaGenerations(sqlite3* db) { return Exec(db, kMigration); }

}  // namespace db
