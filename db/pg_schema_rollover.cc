// pg_schema_rollover.cc — PostgreSQL migration: CA generations, the same tables, constraints and
// indexes as SQLite's (db/schema_rollover.cc says which invariants they hold).
#include <array>

#include "db/pg_conn.h"
#include "db/schema_rollover.h"

namespace db {
namespace {

// clang-format off
#define PG_TIME_CHECK(column) "(" column " ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$')"
constexpr std::array kMigration = {
R"sql(CREATE TABLE ca_generations (
  gen bigint PRIMARY KEY CHECK (gen >= 1),
  state text NOT NULL CHECK (state IN ('pending', 'active', 'previous', 'retired')),
  cert_sha256 text NOT NULL UNIQUE CHECK (cert_sha256 ~ '^[0-9a-f]{64}$'),
  cert_der bytea NOT NULL CHECK (length(cert_der) > 0),
  new_with_old_der bytea NULL,
  old_with_new_der bytea NULL,
  key_location text NOT NULL CHECK (key_location <> ''),
  created_at text COLLATE "C" NOT NULL CHECK )sql" PG_TIME_CHECK("created_at") R"sql(,
  activated_at text COLLATE "C" NULL CHECK (activated_at IS NULL OR )sql" PG_TIME_CHECK("activated_at") R"sql(),
  retired_at text COLLATE "C" NULL CHECK (retired_at IS NULL OR )sql" PG_TIME_CHECK("retired_at") R"sql(),
  CHECK ((state = 'pending') = (activated_at IS NULL)),
  CHECK ((state = 'retired') = (retired_at IS NOT NULL)),
  CHECK ((gen = 1) = (new_with_old_der IS NULL) AND (gen = 1) = (old_with_new_der IS NULL))
))sql",
"CREATE UNIQUE INDEX ca_generations_one_active ON ca_generations (state) WHERE state = 'active'",
"CREATE UNIQUE INDEX ca_generations_one_pending ON ca_generations (state) WHERE state = 'pending'",
"CREATE UNIQUE INDEX ca_generations_one_previous ON ca_generations (state) "
"WHERE state = 'previous'",
// PostgreSQL 11+: a constant default is kept in the catalogue, no table rewrite.
"ALTER TABLE certificates ADD COLUMN ca_gen bigint NOT NULL DEFAULT 1 CHECK (ca_gen >= 1)",
R"sql(CREATE TABLE cacerts_fetches (
  ca_gen bigint NOT NULL REFERENCES ca_generations (gen),
  device_id text COLLATE "C" NOT NULL CHECK (device_id <> ''),
  first_at text COLLATE "C" NOT NULL CHECK )sql" PG_TIME_CHECK("first_at") R"sql(,
  PRIMARY KEY (ca_gen, device_id)
))sql",
};
#undef PG_TIME_CHECK
// clang-format on

}  // namespace

Result<void> PgMigrateAddCaGenerations(PgConn& db) {
  for (const char* sql : kMigration) {
    if (auto r = db.Run(sql); !r) return std::unexpected(r.error());
  }
  return {};
}

}  // namespace db
