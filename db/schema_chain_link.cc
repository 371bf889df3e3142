// schema_chain_link.cc — SQLite migration 12 (schema_chain_link.h): enrollment_events.prev_hash
// dropped; the chain links each row to the previous row's stored row_hash.
#include "db/schema_chain_link.h"

#include "db/statement.h"

namespace db {

Result<void> MigrateChainLink(sqlite3* db) {
  // The column's only constraint is its own CHECK, and no index or view names it, so SQLite can
  // drop it in place (no table rebuild, foreign keys untouched).
  return Exec(db, "ALTER TABLE enrollment_events DROP COLUMN prev_hash");
}

}  // namespace db
