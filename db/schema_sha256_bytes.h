// schema_sha256_bytes.h — the migration that stores the certificates' SHA-256 columns and the
// columns compared or joined with them as 32 bytes instead of 64 hex characters (issue #18,
// storage per enrollment), SQLite and PostgreSQL. Private to db/; run by db/schema.cc and
// db/pg_schema.cc.
#pragma once

#include <sqlite3.h>

#include "db/records.h"

namespace db {

class PgConn;

// The schema versions this migration starts from (tests that build an older store use these).
inline constexpr int kSha256BytesFromVersion = 12;
inline constexpr int kPgSha256BytesFromVersion = 9;

// Inside the caller's write transaction, every row converted in place (same ids, rowids and
// order): BLOB / bytea of exactly 32 bytes (CHECK) instead of lowercase hex text for
//   certificates.fingerprint_sha256, public_key_sha256, auth_cert_fingerprint, tbs_sha256 (NULL
//     stays NULL: certificates from before intents),
//   issuance_intents.public_key_sha256, auth_cert_fingerprint, tbs_sha256 (bound against the
//     certificates' in one statement by Reserve's checks and re-bootstrap),
//   enroll_tombstones.auth_cert_fingerprint (the same statements),
//   manifest_devices.bootstrap_sha256 (joined with auth_cert_fingerprint by `manifest report`),
//   enrollment_events.presented_fingerprint (joined with bootstrap_sha256 and fingerprint_sha256
//     by `manifest report`): '' (no certificate presented) becomes NULL, the column nullable.
// The audit chain still hashes presented_fingerprint as the hex text ('' for NULL) it held
// before (db/row_read.h, Sha256Column), so every row_hash and checkpoint stays valid. A value
// that is not 64 lowercase hex characters (which the old CHECKs refused) fails the migration.
// The active_certificates view shows the hashes as lowercase hex, as before.
// SQLite rebuilds the five tables (a STRICT column's type cannot change in place) and their
// indexes, so db/schema.cc runs it with foreign keys off (enrollment_events.serial references
// certificates.serial, manifest_devices.batch_id manifest_batches.id); PostgreSQL changes the
// column types (one rewrite of each table and its indexes).
Result<void> MigrateSha256Bytes(sqlite3* db);
Result<void> PgMigrateSha256Bytes(PgConn& db);

}  // namespace db
