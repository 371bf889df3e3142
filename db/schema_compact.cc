// schema_compact.cc — SQLite migration 5 (schema_compact.h): an issued intent keeps its TBS's
// SHA-256 instead of the TBS, and the indexes no statement uses are gone.
#include "db/schema_compact.h"

#include <string>
#include <utility>
#include <vector>

#include "ca/encoding.h"
#include "db/statement.h"

namespace db {
namespace {

// clang-format off (the SQL below is laid out for reading, as `.schema` shows it)
#define PROVISIOND_ISO8601_GLOB \
  "'[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]Z'"
#define PROVISIOND_HEX(column) "(" column " <> '' AND " column " NOT GLOB '*[^0-9a-f]*')"
#define PROVISIOND_SHA256(column) "(length(" column ") = 64 AND " PROVISIOND_HEX(column) ")"

// Version 5, first part: issuance_intents rebuilt (SQLite cannot relax NOT NULL in place) with
// its rows and their rowids (the audit chain's state check reads intents in rowid order).
//
// Invariants added:
//   - tbs_sha256: lowercase hex SHA-256 of the TBS, set by Complete in the transaction that marks
//     the intent 'issued' and sets tbs to NULL; exactly one of tbs and tbs_sha256 is present, and a
//     pending intent always has its TBS (it is what will be signed). The audit chain's intent
//     event records the same hash (tbs_sha256="..."), so `audit verify` checks either column.
constexpr const char* kRebuildIntents = R"sql(
CREATE TABLE issuance_intents_v5 (
  serial TEXT PRIMARY KEY CHECK )sql" PROVISIOND_HEX("serial") R"sql(,
  device_id TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('enroll', 'reenroll')),
  public_key_sha256 TEXT NOT NULL CHECK )sql" PROVISIOND_SHA256("public_key_sha256") R"sql(,
  auth_cert_fingerprint TEXT NOT NULL CHECK )sql" PROVISIOND_SHA256("auth_cert_fingerprint") R"sql(,
  auth_cert_issuer TEXT NOT NULL,
  auth_cert_serial TEXT NOT NULL,
  tbs BLOB NULL CHECK (tbs IS NULL OR length(tbs) > 0),
  not_after TEXT NOT NULL CHECK (not_after GLOB )sql" PROVISIOND_ISO8601_GLOB R"sql(),
  peer TEXT NOT NULL,
  created_at TEXT NOT NULL CHECK (created_at GLOB )sql" PROVISIOND_ISO8601_GLOB R"sql(),
  status TEXT NOT NULL CHECK (status IN ('pending', 'issued')),
  revoked_at TEXT NULL CHECK (revoked_at IS NULL OR revoked_at GLOB )sql" PROVISIOND_ISO8601_GLOB
                                                                                             R"sql(),
  revocation_reason INTEGER NULL
    CHECK (revocation_reason IS NULL OR (revocation_reason BETWEEN 0 AND 10
                                         AND revocation_reason <> 7)),
  profile TEXT NOT NULL DEFAULT '',
  tbs_sha256 TEXT NULL CHECK (tbs_sha256 IS NULL OR )sql" PROVISIOND_SHA256("tbs_sha256") R"sql(),
  CHECK (revocation_reason IS NULL OR revoked_at IS NOT NULL),
  CHECK ((tbs IS NULL) <> (tbs_sha256 IS NULL)),
  CHECK (tbs IS NOT NULL OR status = 'issued')
) STRICT;
INSERT INTO issuance_intents_v5 (rowid, serial, device_id, kind, public_key_sha256,
  auth_cert_fingerprint, auth_cert_issuer, auth_cert_serial, tbs, not_after, peer, created_at,
  status, revoked_at, revocation_reason, profile)
SELECT rowid, serial, device_id, kind, public_key_sha256, auth_cert_fingerprint, auth_cert_issuer,
  auth_cert_serial, tbs, not_after, peer, created_at, status, revoked_at, revocation_reason, profile
FROM issuance_intents ORDER BY rowid;
DROP TABLE issuance_intents;
ALTER TABLE issuance_intents_v5 RENAME TO issuance_intents;
)sql";

// Version 5, second part (after the issued intents' TBS became their hash):
//   - the intent lookups by key, bootstrap certificate and device (Reserve's checks, revoke
//     --device) all ask for status = 'pending', so their indexes hold pending rows only: an
//     issued intent is found through its certificate (certificates_* indexes) instead.
//   - enrollment_events_device_id, _presented_fingerprint and _serial served no statement of
//     ours nor of the README (events are read by id, by time, and whole by `audit verify`), and
//     certificates' serial is never updated nor a row deleted, so the foreign key needs no index
//     on the child side.
constexpr const char* kIndexes = R"sql(
CREATE INDEX issuance_intents_auth_cert_fingerprint ON issuance_intents (auth_cert_fingerprint)
  WHERE status = 'pending';
CREATE INDEX issuance_intents_public_key_sha256 ON issuance_intents (public_key_sha256)
  WHERE status = 'pending';
CREATE INDEX issuance_intents_device_id ON issuance_intents (device_id) WHERE status = 'pending';
CREATE INDEX issuance_intents_pending ON issuance_intents (created_at) WHERE status = 'pending';
CREATE INDEX issuance_intents_revoked_not_after ON issuance_intents (not_after)
  WHERE revoked_at IS NOT NULL;
DROP INDEX enrollment_events_device_id;
DROP INDEX enrollment_events_presented_fingerprint;
DROP INDEX enrollment_events_serial;
)sql";

#undef PROVISIOND_SHA256
#undef PROVISIOND_HEX
#undef PROVISIOND_ISO8601_GLOB
// clang-format on

// Every issued intent still holding its TBS gives it up for the TBS's hash.
Result<void> HashIssuedTbs(sqlite3* db) {
  auto select =
      Statement::Prepare(db, "SELECT rowid, tbs FROM issuance_intents WHERE status = 'issued' "
                             "AND tbs IS NOT NULL");
  if (!select) return std::unexpected(select.error());
  std::vector<std::pair<int64_t, std::string>> hashes;
  for (;;) {
    auto row = select->Step();
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    const std::vector<unsigned char> tbs = select->Blob(1);
    hashes.emplace_back(select->Int(0), ca::Sha256Hex(tbs));
  }
  for (const auto& [rowid, hash] : hashes) {
    auto update = Statement::Prepare(
        db, "UPDATE issuance_intents SET tbs_sha256 = ?1, tbs = NULL WHERE rowid = ?2");
    if (!update) return std::unexpected(update.error());
    update->BindText(1, hash);
    update->BindInt(2, rowid);
    if (auto r = update->Run(); !r) return r;
  }
  return {};
}

}  // namespace

Result<void> MigrateToV5Compact(sqlite3* db) {
  if (auto r = Exec(db, kRebuildIntents); !r) return r;
  if (auto r = HashIssuedTbs(db); !r) return r;
  return Exec(db, kIndexes);
}

}  // namespace db
