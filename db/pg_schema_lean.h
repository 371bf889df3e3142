// pg_schema_lean.h — PostgreSQL migration "lean enrollments" (db/pg_schema_lean.cc), as SQLite's
// (db/schema_lean.h). Private to db/; run by db/pg_schema.cc.
#pragma once

#include "db/pg_conn.h"

namespace db {

// The PostgreSQL schema version this migration starts from.
inline constexpr int kPgLeanFromVersion = 2;

// Inside the caller's transaction: certificates.tbs_sha256 from each issued intent, the issued
// intents deleted, enrollment_events_time partial.
Result<void> MigratePgLeanEnrollments(PgConn& db);

}  // namespace db
