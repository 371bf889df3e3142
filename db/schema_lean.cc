// schema_lean.cc — SQLite migration "lean enrollments" (schema_lean.h): an issued intent's row
// goes, its certificate keeps the TBS's hash, and the events' time index loses the issued rows.
#include "db/schema_lean.h"

#include "db/statement.h"

namespace db {
namespace {

// clang-format off (the SQL below is laid out for reading, as `.schema` shows it)
//
// Invariants after it (store.h, Store::Reserve / Complete):
//   - issuance_intents holds pending intents only (revoked or not): Complete inserts the
//     certificate and deletes its intent in one transaction, so a serial is in one of the two
//     tables, never both (audit verify reports a serial in both). status stays, always 'pending'.
//   - certificates.tbs_sha256: lowercase hex SHA-256 of the TBS that was signed, which is what the
//     chain's intent event recorded; NULL only for certificates issued before intents existed
//     (schema version 2), which have the default profile. `audit verify` rebuilds each issued
//     intent's state event from its certificate (device, kind, key, bootstrap certificate,
//     profile, tbs_sha256), so the chain still vouches for every intent ever reserved.
//   - enrollment_events_time holds the rows the README's query asks for (outcome <> 'issued');
//     no statement of ours reads events by time. enrollment_events_server_key holds the issued
//     events whose key the server generated (serverkeygen, rare), for the README's query of them.
constexpr const char* kLeanEnrollments = R"sql(
ALTER TABLE certificates ADD COLUMN tbs_sha256 TEXT NULL
  CHECK (tbs_sha256 IS NULL OR (length(tbs_sha256) = 64 AND tbs_sha256 NOT GLOB '*[^0-9a-f]*'));
UPDATE certificates SET tbs_sha256 = (
  SELECT i.tbs_sha256 FROM issuance_intents i
  WHERE i.serial = certificates.serial AND i.status = 'issued')
WHERE EXISTS (SELECT 1 FROM issuance_intents i
              WHERE i.serial = certificates.serial AND i.status = 'issued');
DELETE FROM issuance_intents WHERE status = 'issued';
DROP INDEX enrollment_events_time;
CREATE INDEX enrollment_events_time ON enrollment_events (time) WHERE outcome <> 'issued';
CREATE INDEX enrollment_events_server_key ON enrollment_events (time)
  WHERE reason = 'issued_server_key';
)sql";
// clang-format on

}  // namespace

Result<void> MigrateLeanEnrollments(sqlite3* db) { return Exec(db, kLeanEnrollments); }

}  // namespace db
