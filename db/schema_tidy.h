// schema_tidy.h — the migration that adds retention (#19 part 5: `provisiond tidy`), SQLite and
// PostgreSQL, each in a file of its own. Private to db/; run by db/schema.cc and db/pg_schema.cc.
#pragma once

#include <sqlite3.h>

#include "db/records.h"

namespace db {

class PgConn;

// The schema versions this migration starts from (tests that build an older store use these).
inline constexpr int kTidyFromVersion = 9;
inline constexpr int kPgTidyFromVersion = 6;

// Inside the caller's write transaction: enroll_tombstones (what keeps the one-time bootstrap
// rule once tidy removed the certificate that spent a bootstrap certificate), audit_chain_base
// (where a truncated audit chain starts, and the signed checkpoint of the row below it) and
// crl_state.dropped_before (entries expired before this are on no CRL signed since).
// PostgreSQL also replaces the enrollment_events.serial foreign key by an insert-time trigger
// (db/pg_schema_tidy.cc says why).
Result<void> MigrateAddTidy(sqlite3* db);
Result<void> PgMigrateAddTidy(PgConn& db);

}  // namespace db
