// pg_schema_lean.cc — PostgreSQL migration "lean enrollments": the invariants of SQLite's
// (db/schema_lean.cc, which says why), in the same steps.
#include "db/pg_schema_lean.h"

#include <array>

namespace db {
namespace {

constexpr std::array kLeanEnrollments = {
    "ALTER TABLE certificates ADD COLUMN tbs_sha256 text NULL "
    "CHECK (tbs_sha256 ~ '^[0-9a-f]{64}$')",
    "UPDATE certificates c SET tbs_sha256 = i.tbs_sha256 FROM issuance_intents i "
    "WHERE i.serial = c.serial AND i.status = 'issued'",
    "DELETE FROM issuance_intents WHERE status = 'issued'",
    "DROP INDEX enrollment_events_time",
    "CREATE INDEX enrollment_events_time ON enrollment_events (time) WHERE outcome <> 'issued'",
    "CREATE INDEX enrollment_events_server_key ON enrollment_events (time) "
    "WHERE reason = 'issued_server_key'",
};

}  // namespace

Result<void> MigratePgLeanEnrollments(PgConn& db) {
  for (const char* sql : kLeanEnrollments) {
    if (auto r = db.Run(sql); !r) return std::unexpected(r.error());
  }
  return {};
}

}  // namespace db
