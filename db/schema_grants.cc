// schema_grants.cc — SQLite: the rebootstrap_grants table (schema_grants.h), an operator's
// single-use, time-boxed allowance for a factory-reset device to enroll once more.
#include "db/schema_grants.h"

#include "db/statement.h"

namespace db {
namespace {

// clang-format off (the SQL below is laid out for reading, as `.schema` shows it)
#define PROVISIOND_ISO8601_GLOB \
  "'[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]Z'"
// Invariants:
//   - a grant is spent at most once: spent_at and spent_serial are set together, by the Reserve
//     that spent it (UPDATE ... WHERE spent_at IS NULL AND expires_at > now), and spent_serial is
//     UNIQUE (one intent spends one grant; Complete finds the grant of its serial by it);
//   - expires_at is after granted_at; a row is never deleted, so the history stays and the audit
//     chain's rebootstrap_granted / rebootstrap_spent state events have a row to match.
constexpr const char* kMigrationAddGrants = R"sql(
CREATE TABLE rebootstrap_grants (
  id INTEGER PRIMARY KEY,
  device_id TEXT NOT NULL CHECK (device_id <> ''),
  reason TEXT NOT NULL CHECK (reason <> ''),
  granted_at TEXT NOT NULL CHECK (granted_at GLOB )sql" PROVISIOND_ISO8601_GLOB R"sql(),
  expires_at TEXT NOT NULL CHECK (expires_at GLOB )sql" PROVISIOND_ISO8601_GLOB R"sql(),
  revoke_previous INTEGER NOT NULL CHECK (revoke_previous IN (0, 1)),
  spent_at TEXT NULL CHECK (spent_at IS NULL OR spent_at GLOB )sql" PROVISIOND_ISO8601_GLOB R"sql(),
  spent_serial TEXT NULL UNIQUE,
  CHECK (expires_at > granted_at),
  CHECK ((spent_at IS NULL) = (spent_serial IS NULL))
) STRICT;
CREATE INDEX rebootstrap_grants_device_id ON rebootstrap_grants (device_id, id);
)sql";
#undef PROVISIOND_ISO8601_GLOB
// clang-format on

}  // namespace

Result<void> MigrateAddGrants(sqlite3* db) { return Exec(db, kMigrationAddGrants); }

}  // namespace db
