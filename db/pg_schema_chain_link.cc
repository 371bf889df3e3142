// pg_schema_chain_link.cc — PostgreSQL migration 9 (schema_chain_link.h):
// enrollment_events.prev_hash dropped (with its CHECK); audit_head and audit_chain_base keep
// their hashes.
#include "db/pg_conn.h"
#include "db/schema_chain_link.h"

namespace db {

Result<void> PgMigrateChainLink(PgConn& db) {
  if (auto r = db.Run("ALTER TABLE enrollment_events DROP COLUMN prev_hash"); !r) {
    return std::unexpected(r.error());
  }
  return {};
}

}  // namespace db
