// schema_sha256_bytes.cc — SQLite migration 13 (schema_sha256_bytes.h): certificates,
// issuance_intents, enroll_tombstones, manifest_devices and enrollment_events rebuilt with their
// SHA-256 columns as 32-byte BLOBs, and active_certificates recreated to show them as hex.
#include "db/schema_sha256_bytes.h"

#include <string>
#include <string_view>

#include "db/schema_chain_bytes.h"
#include "db/statement.h"

namespace db {
namespace {

// clang-format off (the SQL below is laid out for reading, as `.schema` shows it)
#define PROVISIOND_ISO8601_GLOB \
  "'[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]Z'"
#define PROVISIOND_TIME(column) column " TEXT NOT NULL CHECK (" column " GLOB " PROVISIOND_ISO8601_GLOB ")"
#define PROVISIOND_TIME_NULL(column) \
  column " TEXT NULL CHECK (" column " IS NULL OR " column " GLOB " PROVISIOND_ISO8601_GLOB ")"
#define PROVISIOND_SHA256(column) column " BLOB NOT NULL CHECK (length(" column ") = 32)"
#define PROVISIOND_SHA256_NULL(column) \
  column " BLOB NULL CHECK (" column " IS NULL OR length(" column ") = 32)"
#define PROVISIOND_HEX(column) "(" column " <> '' AND " column " NOT GLOB '*[^0-9a-f]*')"
#define PROVISIOND_REASON                                                     \
  "revocation_reason INTEGER NULL\n"                                          \
  "    CHECK (revocation_reason IS NULL OR (revocation_reason BETWEEN 0 AND 10\n" \
  "                                         AND revocation_reason <> 7))"
// Invariants: those of the tables as versions 1-12 left them (db/schema.cc and the migrations
// after it), the hashes now 32 bytes each (provisiond_hash_bytes fails NOT NULL on anything but
// 64 lowercase hex characters; in a nullable column the text is kept, which STRICT refuses). Ids and rowids are copied: intents are read in rowid order, events
// in id order (the chain), certificates by id. The indexes are those version 12 had.
constexpr const char* kRebuild = R"sql(
DROP VIEW active_certificates;

CREATE TABLE certificates_v13 (
  id INTEGER PRIMARY KEY,
  serial TEXT NOT NULL UNIQUE CHECK )sql" PROVISIOND_HEX("serial") R"sql(,
  device_id TEXT NOT NULL,
  subject TEXT NOT NULL,
  san TEXT NOT NULL,
  )sql" PROVISIOND_TIME("not_before") R"sql(,
  )sql" PROVISIOND_TIME("not_after") R"sql(,
  der BLOB NOT NULL CHECK (length(der) > 0),
  )sql" PROVISIOND_SHA256("fingerprint_sha256") R"sql( UNIQUE,
  )sql" PROVISIOND_SHA256("public_key_sha256") R"sql(,
  auth_cert_issuer TEXT NOT NULL,
  auth_cert_serial TEXT NOT NULL,
  )sql" PROVISIOND_SHA256("auth_cert_fingerprint") R"sql(,
  kind TEXT NOT NULL CHECK (kind IN ('enroll', 'reenroll')),
  peer TEXT NOT NULL,
  )sql" PROVISIOND_TIME("issued_at") R"sql(,
  )sql" PROVISIOND_TIME_NULL("revoked_at") R"sql(,
  )sql" PROVISIOND_REASON R"sql(,
  profile TEXT NOT NULL DEFAULT '',
  )sql" PROVISIOND_SHA256_NULL("tbs_sha256") R"sql(,
  ca_gen INTEGER NOT NULL DEFAULT 1 CHECK (ca_gen >= 1),
  CHECK (revocation_reason IS NULL OR revoked_at IS NOT NULL)
) STRICT;
INSERT INTO certificates_v13 (id, serial, device_id, subject, san, not_before, not_after, der,
  fingerprint_sha256, public_key_sha256, auth_cert_issuer, auth_cert_serial,
  auth_cert_fingerprint, kind, peer, issued_at, revoked_at, revocation_reason, profile,
  tbs_sha256, ca_gen)
SELECT id, serial, device_id, subject, san, not_before, not_after, der,
  provisiond_hash_bytes(fingerprint_sha256), provisiond_hash_bytes(public_key_sha256),
  auth_cert_issuer, auth_cert_serial, provisiond_hash_bytes(auth_cert_fingerprint), kind, peer,
  issued_at, revoked_at, revocation_reason, profile,
  CASE WHEN tbs_sha256 IS NULL THEN NULL
       ELSE coalesce(provisiond_hash_bytes(tbs_sha256), tbs_sha256) END, ca_gen
FROM certificates ORDER BY id;
DROP TABLE certificates;
ALTER TABLE certificates_v13 RENAME TO certificates;
CREATE INDEX certificates_device_id ON certificates (device_id);
CREATE INDEX certificates_public_key_sha256 ON certificates (public_key_sha256);
CREATE INDEX certificates_auth_cert_fingerprint ON certificates (auth_cert_fingerprint);
CREATE INDEX certificates_revoked_not_after ON certificates (not_after)
  WHERE revoked_at IS NOT NULL;
CREATE INDEX certificates_unrevoked_not_after ON certificates (not_after)
  WHERE revoked_at IS NULL;

CREATE TABLE issuance_intents_v13 (
  serial TEXT PRIMARY KEY CHECK )sql" PROVISIOND_HEX("serial") R"sql(,
  device_id TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('enroll', 'reenroll')),
  )sql" PROVISIOND_SHA256("public_key_sha256") R"sql(,
  )sql" PROVISIOND_SHA256("auth_cert_fingerprint") R"sql(,
  auth_cert_issuer TEXT NOT NULL,
  auth_cert_serial TEXT NOT NULL,
  tbs BLOB NULL CHECK (tbs IS NULL OR length(tbs) > 0),
  )sql" PROVISIOND_TIME("not_after") R"sql(,
  peer TEXT NOT NULL,
  )sql" PROVISIOND_TIME("created_at") R"sql(,
  status TEXT NOT NULL CHECK (status IN ('pending', 'issued')),
  )sql" PROVISIOND_TIME_NULL("revoked_at") R"sql(,
  )sql" PROVISIOND_REASON R"sql(,
  profile TEXT NOT NULL DEFAULT '',
  )sql" PROVISIOND_SHA256_NULL("tbs_sha256") R"sql(,
  CHECK (revocation_reason IS NULL OR revoked_at IS NOT NULL),
  CHECK ((tbs IS NULL) <> (tbs_sha256 IS NULL)),
  CHECK (tbs IS NOT NULL OR status = 'issued')
) STRICT;
INSERT INTO issuance_intents_v13 (rowid, serial, device_id, kind, public_key_sha256,
  auth_cert_fingerprint, auth_cert_issuer, auth_cert_serial, tbs, not_after, peer, created_at,
  status, revoked_at, revocation_reason, profile, tbs_sha256)
SELECT rowid, serial, device_id, kind, provisiond_hash_bytes(public_key_sha256),
  provisiond_hash_bytes(auth_cert_fingerprint), auth_cert_issuer, auth_cert_serial, tbs,
  not_after, peer, created_at, status, revoked_at, revocation_reason, profile,
  CASE WHEN tbs_sha256 IS NULL THEN NULL
       ELSE coalesce(provisiond_hash_bytes(tbs_sha256), tbs_sha256) END
FROM issuance_intents ORDER BY rowid;
DROP TABLE issuance_intents;
ALTER TABLE issuance_intents_v13 RENAME TO issuance_intents;
CREATE INDEX issuance_intents_auth_cert_fingerprint ON issuance_intents (auth_cert_fingerprint)
  WHERE status = 'pending';
CREATE INDEX issuance_intents_public_key_sha256 ON issuance_intents (public_key_sha256)
  WHERE status = 'pending';
CREATE INDEX issuance_intents_device_id ON issuance_intents (device_id) WHERE status = 'pending';
CREATE INDEX issuance_intents_pending ON issuance_intents (created_at) WHERE status = 'pending';
CREATE INDEX issuance_intents_revoked_not_after ON issuance_intents (not_after)
  WHERE revoked_at IS NOT NULL;

CREATE TABLE enroll_tombstones_v13 (
  serial TEXT PRIMARY KEY CHECK (serial <> ''),
  device_id TEXT NOT NULL,
  )sql" PROVISIOND_SHA256("auth_cert_fingerprint") R"sql(,
  )sql" PROVISIOND_TIME("not_after") R"sql(
) STRICT, WITHOUT ROWID;
INSERT INTO enroll_tombstones_v13 (serial, device_id, auth_cert_fingerprint, not_after)
SELECT serial, device_id, provisiond_hash_bytes(auth_cert_fingerprint), not_after
FROM enroll_tombstones ORDER BY serial;
DROP TABLE enroll_tombstones;
ALTER TABLE enroll_tombstones_v13 RENAME TO enroll_tombstones;
CREATE INDEX enroll_tombstones_auth_cert_fingerprint ON enroll_tombstones (auth_cert_fingerprint);
CREATE INDEX enroll_tombstones_device_id ON enroll_tombstones (device_id);

CREATE TABLE manifest_devices_v13 (
  batch_id INTEGER NOT NULL REFERENCES manifest_batches (id),
  device_id TEXT NOT NULL UNIQUE CHECK (device_id <> ''),
  )sql" PROVISIOND_SHA256("bootstrap_sha256") R"sql( UNIQUE
) STRICT;
INSERT INTO manifest_devices_v13 (rowid, batch_id, device_id, bootstrap_sha256)
SELECT rowid, batch_id, device_id, provisiond_hash_bytes(bootstrap_sha256)
FROM manifest_devices ORDER BY rowid;
DROP TABLE manifest_devices;
ALTER TABLE manifest_devices_v13 RENAME TO manifest_devices;
CREATE INDEX manifest_devices_batch_id ON manifest_devices (batch_id);

CREATE TABLE enrollment_events_v13 (
  id INTEGER PRIMARY KEY,
  )sql" PROVISIOND_TIME("time") R"sql(,
  peer TEXT NOT NULL,
  )sql" PROVISIOND_SHA256_NULL("presented_fingerprint") R"sql(,
  presented_subject TEXT NOT NULL,
  device_id TEXT NOT NULL,
  endpoint TEXT NOT NULL,
  outcome TEXT NOT NULL CHECK (outcome <> ''),
  http_status INTEGER NOT NULL CHECK (http_status = 0 OR http_status BETWEEN 100 AND 599),
  reason TEXT NOT NULL,
  serial TEXT NULL REFERENCES certificates (serial),
  row_hash BLOB NOT NULL CHECK (length(row_hash) = 32),
  CHECK (serial IS NULL OR outcome = 'issued')
) STRICT;
INSERT INTO enrollment_events_v13 (id, time, peer, presented_fingerprint, presented_subject,
  device_id, endpoint, outcome, http_status, reason, serial, row_hash)
SELECT id, time, peer,
  CASE WHEN presented_fingerprint = '' THEN NULL
       ELSE coalesce(provisiond_hash_bytes(presented_fingerprint), presented_fingerprint) END,
  presented_subject, device_id, endpoint, outcome, http_status, reason, serial, row_hash
FROM enrollment_events ORDER BY id;
DROP TABLE enrollment_events;
ALTER TABLE enrollment_events_v13 RENAME TO enrollment_events;
CREATE INDEX enrollment_events_time ON enrollment_events (time) WHERE outcome <> 'issued';
CREATE INDEX enrollment_events_server_key ON enrollment_events (time)
  WHERE reason = 'issued_server_key';
CREATE INDEX enrollment_events_presented_fingerprint ON enrollment_events (presented_fingerprint)
  WHERE presented_fingerprint IS NOT NULL;

CREATE VIEW active_certificates AS
  SELECT id, serial, device_id, subject, san, not_before, not_after, der,
         lower(hex(fingerprint_sha256)) AS fingerprint_sha256,
         lower(hex(public_key_sha256)) AS public_key_sha256, auth_cert_issuer, auth_cert_serial,
         lower(hex(auth_cert_fingerprint)) AS auth_cert_fingerprint, kind, peer, issued_at
  FROM certificates
  WHERE revoked_at IS NULL AND not_after > strftime('%Y-%m-%dT%H:%M:%SZ', 'now');
)sql";
#undef PROVISIOND_REASON
#undef PROVISIOND_HEX
#undef PROVISIOND_SHA256_NULL
#undef PROVISIOND_SHA256
#undef PROVISIOND_TIME_NULL
#undef PROVISIOND_TIME
#undef PROVISIOND_ISO8601_GLOB
// clang-format on

// What the rebuild would lose: an index or trigger on one of the five tables that is not one
// kRebuild makes again (an operator's), or a view over them other than active_certificates.
constexpr const char* kForeignObjects = R"sql(
SELECT type, name FROM sqlite_master
WHERE ((type IN ('index', 'trigger')
        AND tbl_name IN ('certificates', 'issuance_intents', 'enroll_tombstones',
                         'manifest_devices', 'enrollment_events'))
       OR (type = 'view' AND name <> 'active_certificates'
           AND (sql LIKE '%certificates%' OR sql LIKE '%issuance_intents%'
                OR sql LIKE '%enroll_tombstones%' OR sql LIKE '%manifest_devices%'
                OR sql LIKE '%enrollment_events%')))
  AND name NOT LIKE 'sqlite_autoindex_%'
ORDER BY type, name
)sql";

Result<void> RefuseForeignObjects(sqlite3* db) {
  auto select = Statement::Prepare(db, kForeignObjects);
  if (!select) return std::unexpected(select.error());
  std::string found;
  for (;;) {
    auto row = select->Step();
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    const std::string name = select->Text(1);
    if (select->Text(0) == "index" &&
        std::string_view(kRebuild).find("CREATE INDEX " + name + " ON") != std::string_view::npos) {
      continue;  // ours
    }
    found += (found.empty() ? "" : ", ") + select->Text(0) + " " + name;
  }
  if (found.empty()) return {};
  return Fail(Code::kConstraint,
              "schema version 13 rebuilds certificates, issuance_intents, enroll_tombstones, "
              "manifest_devices and enrollment_events and would lose " + found +
              ": drop it (keep its CREATE statement from .schema), migrate, create it again");
}

}  // namespace

Result<void> MigrateSha256Bytes(sqlite3* db) {
  if (auto r = RefuseForeignObjects(db); !r) return r;
  return ExecWithHashBytes(db, kRebuild);
}

}  // namespace db
