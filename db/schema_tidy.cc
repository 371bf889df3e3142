// schema_tidy.cc — SQLite: the tables retention needs (schema_tidy.h): tombstones for removed
// enrollments, the truncated audit chain's base, and the CRL's expiry bound.
#include "db/schema_tidy.h"

#include "db/statement.h"

namespace db {
namespace {

// clang-format off (the SQL below is laid out for reading, as `.schema` shows it)
#define PROVISIOND_ISO8601_GLOB \
  "'[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]Z'"
#define PROVISIOND_SHA256(column) \
  "(length(" column ") = 64 AND " column " NOT GLOB '*[^0-9a-f]*')"
// Invariants:
//   - enroll_tombstones: one row per kind='enroll' certificate or pending intent that tidy
//     removed, written in the transaction that removed it, never deleted. Reserve counts it as the
//     certificate it replaces (the one-time bootstrap rule and the per-device quota; store.h), so
//     removing an expired enrollment never lets its bootstrap certificate enroll again. Its
//     "tombstoned" state event in the audit chain records it (db/audit_tidy.h).
//   - audit_chain_base: no row while the chain starts at id 1 with the genesis hash; after a
//     truncation one row (id = 1): the first remaining event's id, the row_hash of the row below
//     it (its prev_hash), and the audit checkpoint of that row signed with the CA key
//     (ca/audit_checkpoint.h), which `audit verify` checks against ca.crt.
//   - crl_state.dropped_before: the latest "now - keep_after_expiry" of any CRL built (NULL before
//     the first): a revoked certificate with not_after before it is on no CRL built since, nor on
//     any later one, so tidy may remove it (docs/security.md, "Retention").
// The enrollment_events.serial foreign key (version 1) stays; tidy's own connection switches
// foreign keys off for its deletions (SqliteStore), because enrollment_events.serial has no index
// since version 5 and each certificate deleted would scan the whole chain for "issued" events.
constexpr const char* kMigrationAddTidy = R"sql(
CREATE TABLE enroll_tombstones (
  serial TEXT PRIMARY KEY CHECK (serial <> ''),
  device_id TEXT NOT NULL,
  auth_cert_fingerprint TEXT NOT NULL CHECK )sql" PROVISIOND_SHA256("auth_cert_fingerprint") R"sql(,
  not_after TEXT NOT NULL CHECK (not_after GLOB )sql" PROVISIOND_ISO8601_GLOB R"sql()
) STRICT, WITHOUT ROWID;
CREATE INDEX enroll_tombstones_auth_cert_fingerprint ON enroll_tombstones (auth_cert_fingerprint);
CREATE INDEX enroll_tombstones_device_id ON enroll_tombstones (device_id);
CREATE TABLE audit_chain_base (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  first_id INTEGER NOT NULL CHECK (first_id > 1),
  prev_hash TEXT NOT NULL CHECK )sql" PROVISIOND_SHA256("prev_hash") R"sql(,
  checkpoint TEXT NOT NULL
) STRICT;
ALTER TABLE crl_state ADD COLUMN dropped_before TEXT NULL
  CHECK (dropped_before IS NULL OR dropped_before GLOB )sql" PROVISIOND_ISO8601_GLOB R"sql();
)sql";
#undef PROVISIOND_SHA256
#undef PROVISIOND_ISO8601_GLOB
// clang-format on

}  // namespace

Result<void> MigrateAddTidy(sqlite3* db) { return Exec(db, kMigrationAddTidy); }

}  // namespace db
