// pg_schema_chain_bytes.cc — PostgreSQL migration 8 (schema_chain_bytes.h): the audit chain's
// hashes as 32-byte bytea, converted in place by ALTER COLUMN ... TYPE (decode of the hex).
#include <array>

#include "db/pg_conn.h"
#include "db/schema_chain_bytes.h"

namespace db {
namespace {

// The CHECKs of version 1 (a hex pattern, named by PostgreSQL's default) go first: they cannot
// apply to bytea. audit_head.last_hash and audit_chain_base.prev_hash (one row each) stay hex.
constexpr std::array kMigration = {
    "ALTER TABLE enrollment_events DROP CONSTRAINT enrollment_events_prev_hash_check, "
    "DROP CONSTRAINT enrollment_events_row_hash_check",
    "ALTER TABLE enrollment_events "
    "ALTER COLUMN prev_hash TYPE bytea USING decode(prev_hash, 'hex'), "
    "ALTER COLUMN row_hash TYPE bytea USING decode(row_hash, 'hex'), "
    "ADD CONSTRAINT enrollment_events_prev_hash_check CHECK (length(prev_hash) = 32), "
    "ADD CONSTRAINT enrollment_events_row_hash_check CHECK (length(row_hash) = 32)",
};

}  // namespace

Result<void> PgMigrateChainBytes(PgConn& db) {
  for (const char* sql : kMigration) {
    if (auto r = db.Run(sql); !r) return std::unexpected(r.error());
  }
  return {};
}

}  // namespace db
