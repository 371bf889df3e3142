// pg_schema_grants.cc — PostgreSQL: the rebootstrap_grants table (pg_schema_grants.h), the same
// columns and invariants as SQLite's (db/schema_grants.cc says what they are).
#include "db/pg_schema_grants.h"

#include <array>

namespace db {
namespace {

// clang-format off
#define PG_TIME "text COLLATE \"C\""
#define PG_ISO8601(column) "(" column " ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$')"
constexpr std::array kMigrationAddGrants = {
R"sql(CREATE TABLE rebootstrap_grants (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  device_id text NOT NULL CHECK (device_id <> ''),
  reason text NOT NULL CHECK (reason <> ''),
  granted_at )sql" PG_TIME R"sql( NOT NULL CHECK )sql" PG_ISO8601("granted_at") R"sql(,
  expires_at )sql" PG_TIME R"sql( NOT NULL CHECK )sql" PG_ISO8601("expires_at") R"sql(,
  revoke_previous integer NOT NULL CHECK (revoke_previous IN (0, 1)),
  spent_at )sql" PG_TIME R"sql( NULL CHECK (spent_at IS NULL OR )sql" PG_ISO8601("spent_at") R"sql(),
  spent_serial text NULL UNIQUE,
  CHECK (expires_at > granted_at),
  CHECK ((spent_at IS NULL) = (spent_serial IS NULL))
))sql",
"CREATE INDEX rebootstrap_grants_device_id ON rebootstrap_grants (device_id, id)",
};
#undef PG_ISO8601
#undef PG_TIME
// clang-format on

}  // namespace

Result<void> PgMigrateAddGrants(PgConn& db) {
  for (const char* sql : kMigrationAddGrants) {
    if (auto r = db.Run(sql); !r) return std::unexpected(r.error());
  }
  return {};
}

}  // namespace db
