// schema.cc — the schema, as an ordered list of migrations keyed by PRAGMA user_version (the
// per-connection settings durability depends on are in schema_connection.cc).
#include "db/schema.h"

#include <array>
#include <string>
#include <utility>
#include <vector>

#include "ca/cert.h"
#include "db/audit.h"
#include "db/audit_state.h"
#include "db/schema_chain_bytes.h"
#include "db/schema_chain_link.h"
#include "db/schema_compact.h"
#include "db/schema_lean.h"
#include "db/schema_grants.h"
#include "db/schema_manifest.h"
#include "db/schema_rollover.h"
#include "db/schema_sha256_bytes.h"
#include "db/schema_tidy.h"
#include "db/statement.h"

namespace db {
namespace {

// clang-format off (the SQL below is laid out for reading, as `.schema` shows it)
// Times are stored as UTC ISO 8601 text of one fixed width, so that operators using the sqlite3
// CLI can compare and sort them as text (WHERE not_after < '2027-01-01T00:00:00Z').
#define PROVISIOND_ISO8601_GLOB \
  "'[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]Z'"
// Lowercase hex, as produced by ca::HexLower / ca::Sha256Hex.
#define PROVISIOND_HEX(column) "(" column " <> '' AND " column " NOT GLOB '*[^0-9a-f]*')"
#define PROVISIOND_SHA256(column) "(length(" column ") = 64 AND " PROVISIOND_HEX(column) ")"

// Version 1: the initial schema.
//
// Invariants the constraints hold (beyond NOT NULL):
//   - certificates.serial is unique lowercase hex; a collision is Code::kDuplicateSerial.
//   - every "issued" event names its certificate (enrollment_events.serial references
//     certificates.serial; foreign_keys=ON), so an event can never point at a missing row, and
//     only "issued" events carry a serial.
//   - revocation_reason (RFC 5280 CRLReason; 7 is unused) is set only together with revoked_at.
constexpr const char* kMigrationV1 = R"sql(
CREATE TABLE certificates (
  id INTEGER PRIMARY KEY,
  serial TEXT NOT NULL UNIQUE CHECK )sql" PROVISIOND_HEX("serial") R"sql(,
  device_id TEXT NOT NULL,
  subject TEXT NOT NULL,
  san TEXT NOT NULL,
  not_before TEXT NOT NULL CHECK (not_before GLOB )sql" PROVISIOND_ISO8601_GLOB R"sql(),
  not_after TEXT NOT NULL CHECK (not_after GLOB )sql" PROVISIOND_ISO8601_GLOB R"sql(),
  der BLOB NOT NULL CHECK (length(der) > 0),
  fingerprint_sha256 TEXT NOT NULL UNIQUE CHECK )sql" PROVISIOND_SHA256(
    "fingerprint_sha256") R"sql(,
  public_key_sha256 TEXT NOT NULL CHECK )sql" PROVISIOND_SHA256("public_key_sha256") R"sql(,
  auth_cert_issuer TEXT NOT NULL,
  auth_cert_serial TEXT NOT NULL,
  auth_cert_fingerprint TEXT NOT NULL CHECK )sql" PROVISIOND_SHA256("auth_cert_fingerprint") R"sql(,
  kind TEXT NOT NULL CHECK (kind IN ('enroll', 'reenroll')),
  peer TEXT NOT NULL,
  issued_at TEXT NOT NULL CHECK (issued_at GLOB )sql" PROVISIOND_ISO8601_GLOB R"sql(),
  revoked_at TEXT NULL CHECK (revoked_at IS NULL OR revoked_at GLOB )sql" PROVISIOND_ISO8601_GLOB
                                                                                             R"sql(),
  revocation_reason INTEGER NULL
    CHECK (revocation_reason IS NULL OR (revocation_reason BETWEEN 0 AND 10
                                         AND revocation_reason <> 7)),
  CHECK (revocation_reason IS NULL OR revoked_at IS NOT NULL)
) STRICT;
CREATE INDEX certificates_device_id ON certificates (device_id);
CREATE INDEX certificates_public_key_sha256 ON certificates (public_key_sha256);
CREATE INDEX certificates_auth_cert_fingerprint ON certificates (auth_cert_fingerprint);

CREATE TABLE enrollment_events (
  id INTEGER PRIMARY KEY,
  time TEXT NOT NULL CHECK (time GLOB )sql" PROVISIOND_ISO8601_GLOB R"sql(),
  peer TEXT NOT NULL,
  presented_fingerprint TEXT NOT NULL
    CHECK (presented_fingerprint = '' OR )sql" PROVISIOND_SHA256("presented_fingerprint") R"sql(),
  presented_subject TEXT NOT NULL,
  device_id TEXT NOT NULL,
  endpoint TEXT NOT NULL,
  outcome TEXT NOT NULL CHECK (outcome <> ''),
  http_status INTEGER NOT NULL CHECK (http_status = 0 OR http_status BETWEEN 100 AND 599),
  reason TEXT NOT NULL,
  serial TEXT NULL REFERENCES certificates (serial),
  CHECK (serial IS NULL OR outcome = 'issued')
) STRICT;
CREATE INDEX enrollment_events_device_id ON enrollment_events (device_id);
CREATE INDEX enrollment_events_presented_fingerprint ON enrollment_events (presented_fingerprint);
CREATE INDEX enrollment_events_time ON enrollment_events (time);
-- Serves "the event for this certificate" and keeps the foreign-key check on certificates cheap.
CREATE INDEX enrollment_events_serial ON enrollment_events (serial);
)sql";

// Version 2: lifecycle and policy. Runs as kMigrationV2Events, then CopyEventsIntoChain (C++:
// the hashes need SHA-256, which SQLite lacks), then kMigrationV2Rest, in one transaction.
//
// Invariants added:
//   - enrollment_events is a hash chain (prev_hash, row_hash; the rule is in db/audit.h). The table
//     is rebuilt rather than ALTERed so the new columns are NOT NULL without a DEFAULT: a row
//     inserted by anything but InsertChainedEvent must name its hashes or be refused. Rows from
//     version 1 are chained in id order, keeping their ids.
//   - bootstrap_denylist rows name a bootstrap certificate by fingerprint, or by issuer + serial
//     (serial lowercase hex, as ca::CertSerialHex renders it, so a lookup cannot miss on case;
//     version 4 makes it canonical, without a DER sign byte).
//   - crl_state holds exactly one row (id = 1), created here with number 0; NextCrlNumber only
//     ever increments it.
//   - active_certificates is a view (not stored), so it is as current as the clock.
constexpr const char* kMigrationV2Events = R"sql(
CREATE TABLE enrollment_events_v2 (
  id INTEGER PRIMARY KEY,
  time TEXT NOT NULL CHECK (time GLOB )sql" PROVISIOND_ISO8601_GLOB R"sql(),
  peer TEXT NOT NULL,
  presented_fingerprint TEXT NOT NULL
    CHECK (presented_fingerprint = '' OR )sql" PROVISIOND_SHA256("presented_fingerprint") R"sql(),
  presented_subject TEXT NOT NULL,
  device_id TEXT NOT NULL,
  endpoint TEXT NOT NULL,
  outcome TEXT NOT NULL CHECK (outcome <> ''),
  http_status INTEGER NOT NULL CHECK (http_status = 0 OR http_status BETWEEN 100 AND 599),
  reason TEXT NOT NULL,
  serial TEXT NULL REFERENCES certificates (serial),
  prev_hash TEXT NOT NULL CHECK )sql" PROVISIOND_SHA256("prev_hash") R"sql(,
  row_hash TEXT NOT NULL CHECK )sql" PROVISIOND_SHA256("row_hash") R"sql(,
  CHECK (serial IS NULL OR outcome = 'issued')
) STRICT;
)sql";

constexpr const char* kMigrationV2Rest = R"sql(
DROP TABLE enrollment_events;
ALTER TABLE enrollment_events_v2 RENAME TO enrollment_events;
CREATE INDEX enrollment_events_device_id ON enrollment_events (device_id);
CREATE INDEX enrollment_events_presented_fingerprint ON enrollment_events (presented_fingerprint);
CREATE INDEX enrollment_events_time ON enrollment_events (time);
CREATE INDEX enrollment_events_serial ON enrollment_events (serial);

-- The CRL (revoked, by expiry) and the expiry report / active_certificates (not revoked).
CREATE INDEX certificates_revoked_not_after ON certificates (not_after)
  WHERE revoked_at IS NOT NULL;
CREATE INDEX certificates_unrevoked_not_after ON certificates (not_after)
  WHERE revoked_at IS NULL;

CREATE TABLE bootstrap_denylist (
  id INTEGER PRIMARY KEY,
  fingerprint TEXT NULL CHECK (fingerprint IS NULL OR )sql" PROVISIOND_SHA256("fingerprint") R"sql(),
  issuer TEXT NULL CHECK (issuer IS NULL OR issuer <> ''),
  serial TEXT NULL CHECK (serial IS NULL OR )sql" PROVISIOND_HEX("serial") R"sql(),
  reason TEXT NOT NULL,
  added_at TEXT NOT NULL CHECK (added_at GLOB )sql" PROVISIOND_ISO8601_GLOB R"sql(),
  CHECK (fingerprint IS NOT NULL OR (issuer IS NOT NULL AND serial IS NOT NULL))
) STRICT;
CREATE INDEX bootstrap_denylist_fingerprint ON bootstrap_denylist (fingerprint);
CREATE INDEX bootstrap_denylist_issuer_serial ON bootstrap_denylist (issuer, serial);

CREATE TABLE crl_state (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  number INTEGER NOT NULL CHECK (number >= 0)
) STRICT;
INSERT INTO crl_state (id, number) VALUES (1, 0);

CREATE VIEW active_certificates AS
  SELECT id, serial, device_id, subject, san, not_before, not_after, der, fingerprint_sha256,
         public_key_sha256, auth_cert_issuer, auth_cert_serial, auth_cert_fingerprint, kind, peer,
         issued_at
  FROM certificates
  WHERE revoked_at IS NULL AND not_after > strftime('%Y-%m-%dT%H:%M:%SZ', 'now');
)sql";

// Version 3: issuance intents, the first of the two phases of an issuance (Store::Reserve, then
// Store::Complete once the certificate is signed). See store.h for the state machine.
//
// Invariants the constraints hold:
//   - serial is unique lowercase hex within this table; Store::Reserve also refuses a serial that
//     is in `certificates`, and only Store::Complete inserts a certificate, with its own intent's
//     serial, so a serial names one issuance across both tables.
//   - status is 'pending' (reserved, no certificate row yet) or 'issued' (the certificate row with
//     this serial exists, inserted in the transaction that set 'issued'). Nothing sets it back.
//   - tbs is the TBSCertificate to sign, never empty.
//   - revoked_at / revocation_reason as in `certificates`; only pending rows are revoked here
//     (an issued intent's revocation lives on its certificate row).
constexpr const char* kMigrationV3 = R"sql(
CREATE TABLE issuance_intents (
  serial TEXT PRIMARY KEY CHECK )sql" PROVISIOND_HEX("serial") R"sql(,
  device_id TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('enroll', 'reenroll')),
  public_key_sha256 TEXT NOT NULL CHECK )sql" PROVISIOND_SHA256("public_key_sha256") R"sql(,
  auth_cert_fingerprint TEXT NOT NULL CHECK )sql" PROVISIOND_SHA256("auth_cert_fingerprint") R"sql(,
  auth_cert_issuer TEXT NOT NULL,
  auth_cert_serial TEXT NOT NULL,
  tbs BLOB NOT NULL CHECK (length(tbs) > 0),
  not_after TEXT NOT NULL CHECK (not_after GLOB )sql" PROVISIOND_ISO8601_GLOB R"sql(),
  peer TEXT NOT NULL,
  created_at TEXT NOT NULL CHECK (created_at GLOB )sql" PROVISIOND_ISO8601_GLOB R"sql(),
  status TEXT NOT NULL CHECK (status IN ('pending', 'issued')),
  revoked_at TEXT NULL CHECK (revoked_at IS NULL OR revoked_at GLOB )sql" PROVISIOND_ISO8601_GLOB
                                                                                             R"sql(),
  revocation_reason INTEGER NULL
    CHECK (revocation_reason IS NULL OR (revocation_reason BETWEEN 0 AND 10
                                         AND revocation_reason <> 7)),
  CHECK (revocation_reason IS NULL OR revoked_at IS NOT NULL)
) STRICT;
CREATE INDEX issuance_intents_auth_cert_fingerprint ON issuance_intents (auth_cert_fingerprint);
CREATE INDEX issuance_intents_public_key_sha256 ON issuance_intents (public_key_sha256);
CREATE INDEX issuance_intents_device_id ON issuance_intents (device_id);
-- PendingIntents (start-up report) and the CRL: both small ranges of a table that keeps one row
-- per issuance.
CREATE INDEX issuance_intents_pending ON issuance_intents (created_at) WHERE status = 'pending';
CREATE INDEX issuance_intents_revoked_not_after ON issuance_intents (not_after)
  WHERE revoked_at IS NOT NULL;
)sql";

// Version 4: device blocks, certificate profiles, canonical serials and state in the audit chain.
// Runs as kMigrationV4, then NormalizeStoredSerials and BackfillStateEvents (C++), in one
// transaction.
//
// Invariants added:
//   - certificates.profile / issuance_intents.profile: the label of the certificate profile the
//     certificate was (or will be) issued under; '' = the default profile. Complete requires the
//     certificate's to equal its intent's.
//   - device_blocks: at most one active (lifted_at IS NULL) row per device_id (the unique partial
//     index); lifted_at and lift_reason are set together, and a row is never deleted.
//   - every serial stored (certificates.serial, auth_cert_serial, issuance_intents.serial and
//     auth_cert_serial, bootstrap_denylist.serial) is canonical (ca::NormalizeSerialHex): the
//     migration rewrites auth_cert_serial and bootstrap_denylist.serial, the only columns that
//     held other people's serials as their DER bytes (a leading 00 sign byte); ours (ca/tbs.cc
//     CheckSerial: first byte 0x01..0x7F) always were canonical.
//   - every intent, revocation, denylist row, block and lift has its state event in the chain
//     (db/audit_state.h); the rows already present are recorded by the migration.
constexpr const char* kMigrationV4 = R"sql(
ALTER TABLE certificates ADD COLUMN profile TEXT NOT NULL DEFAULT '';
ALTER TABLE issuance_intents ADD COLUMN profile TEXT NOT NULL DEFAULT '';

CREATE TABLE device_blocks (
  id INTEGER PRIMARY KEY,
  device_id TEXT NOT NULL CHECK (device_id <> ''),
  reason TEXT NOT NULL,
  blocked_at TEXT NOT NULL CHECK (blocked_at GLOB )sql" PROVISIOND_ISO8601_GLOB R"sql(),
  lifted_at TEXT NULL CHECK (lifted_at IS NULL OR lifted_at GLOB )sql" PROVISIOND_ISO8601_GLOB
                                                                                         R"sql(),
  lift_reason TEXT NULL,
  CHECK ((lifted_at IS NULL) = (lift_reason IS NULL))
) STRICT;
CREATE UNIQUE INDEX device_blocks_active ON device_blocks (device_id) WHERE lifted_at IS NULL;
)sql";

#undef PROVISIOND_SHA256
#undef PROVISIOND_HEX
#undef PROVISIOND_ISO8601_GLOB
// clang-format on

Result<void> MigrateToV1(sqlite3* db) { return Exec(db, kMigrationV1); }

Result<void> MigrateToV2(sqlite3* db) {
  if (auto r = Exec(db, kMigrationV2Events); !r) return r;
  if (auto r = CopyEventsIntoChain(db); !r) return r;
  return Exec(db, kMigrationV2Rest);
}

Result<void> MigrateToV3(sqlite3* db) { return Exec(db, kMigrationV3); }

// Rewrites one serial column to the canonical form; values that are not hex stay as they are.
Result<void> NormalizeSerialColumn(sqlite3* db, const char* select_sql, const char* update_sql) {
  auto select = Statement::Prepare(db, select_sql);
  if (!select) return std::unexpected(select.error());
  std::vector<std::pair<int64_t, std::string>> changes;
  for (;;) {
    auto row = select->Step();
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    auto canonical = ca::NormalizeSerialHex(select->Text(1));
    if (canonical && *canonical != select->Text(1)) {
      changes.emplace_back(select->Int(0), *canonical);
    }
  }
  for (const auto& [rowid, serial] : changes) {
    auto update = Statement::Prepare(db, update_sql);
    if (!update) return std::unexpected(update.error());
    update->BindText(1, serial);
    update->BindInt(2, rowid);
    if (auto r = update->Run(); !r) return r;
  }
  return {};
}

Result<void> NormalizeStoredSerials(sqlite3* db) {
  const std::pair<const char*, const char*> columns[] = {
      {"SELECT id, serial FROM bootstrap_denylist WHERE serial IS NOT NULL",
       "UPDATE bootstrap_denylist SET serial = ?1 WHERE id = ?2"},
      {"SELECT id, auth_cert_serial FROM certificates",
       "UPDATE certificates SET auth_cert_serial = ?1 WHERE id = ?2"},
      {"SELECT rowid, auth_cert_serial FROM issuance_intents",
       "UPDATE issuance_intents SET auth_cert_serial = ?1 WHERE rowid = ?2"},
  };
  for (const auto& [select_sql, update_sql] : columns) {
    if (auto r = NormalizeSerialColumn(db, select_sql, update_sql); !r) return r;
  }
  return {};
}

Result<void> MigrateToV4(sqlite3* db) {
  if (auto r = Exec(db, kMigrationV4); !r) return r;
  if (auto r = NormalizeStoredSerials(db); !r) return r;
  return BackfillStateEvents(db);
}

// kMigrations[i] takes the file from user_version i to i + 1, inside a transaction the caller
// owns. Append only: a released migration is never edited, since files already at that version
// will not run it again (MigrateToV2 also depends on the hash encoding in audit.cc staying put).
using MigrationStep = Result<void> (*)(sqlite3*);
// Version 5 (less storage per enrollment) is in schema_compact.cc.
constexpr std::array<MigrationStep, 13> kMigrations = {
    MigrateToV1,        MigrateToV2,            MigrateToV3,      MigrateToV4,
    MigrateToV5Compact, MigrateLeanEnrollments, MigrateAddGrants, MigrateAddManifests,
    MigrateAddCaGenerations, MigrateAddTidy, MigrateChainBytes, MigrateChainLink,
    MigrateSha256Bytes};
static_assert(kMigrations.size() == kSchemaVersion, "one migration per schema version");

}  // namespace

Result<void> MigrateTo(sqlite3* db, int target_version) {
  if (target_version < 0 || target_version > kSchemaVersion) {
    return Fail(Code::kInternal, "MigrateTo: no schema version " + std::to_string(target_version));
  }
  auto from_version = QueryInt(db, "PRAGMA user_version");
  if (!from_version) return std::unexpected(from_version.error());
  for (int version = static_cast<int>(*from_version) + 1; version <= target_version; ++version) {
    // Migrations 11 and 13 rebuild enrollment_events (13 also certificates and manifest_devices),
    // which hold foreign keys: off around the transaction (the pragma is a no-op inside one), on
    // again whatever happened.
    const bool rebuild =
        version == kChainBytesFromVersion + 1 || version == kSha256BytesFromVersion + 1;
    if (rebuild) {
      if (auto r = Exec(db, "PRAGMA foreign_keys = OFF"); !r) return r;
    }
    auto applied = InWriteTransaction(db, [&]() -> Result<void> {
      // Read under the write lock: another process may have migrated while we waited for it.
      auto current = QueryInt(db, "PRAGMA user_version");
      if (!current) return std::unexpected(current.error());
      if (*current >= version) return {};
      if (auto r = kMigrations[version - 1](db); !r) return r;
      // PRAGMA takes no bound parameters; `version` is our own constant, not input.
      return Exec(db, "PRAGMA user_version = " + std::to_string(version));
    });
    if (rebuild) {
      if (auto r = Exec(db, "PRAGMA foreign_keys = ON"); !r && applied) return r;
    }
    if (!applied) return applied;
  }
  return {};
}

}  // namespace db
