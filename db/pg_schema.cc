// pg_schema.cc — the PostgreSQL schema (the same tables and view as SQLite's, db/schema.cc, so the
// README's queries run in psql), its version row and the migrations `provisiond migrate` runs.
#include "db/pg_schema.h"

#include <array>
#include <string>

#include "db/audit.h"
#include "db/pg_schema_lean.h"
#include "db/schema_chain_bytes.h"
#include "db/schema_chain_link.h"
#include "db/pg_schema_grants.h"
#include "db/schema_manifest.h"
#include "db/schema_rollover.h"
#include "db/schema_sha256_bytes.h"
#include "db/schema_tidy.h"

namespace db {
namespace {

// clang-format off (the SQL below is laid out for reading, as psql's \d shows it)
// Times are UTC ISO 8601 text of one fixed width, compared byte-wise (COLLATE "C") whatever the
// database's locale, so WHERE not_after < '2027-01-01T00:00:00Z' means what it says.
#define PG_TIME "text COLLATE \"C\""
#define PG_ISO8601(column) "(" column " ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$')"
#define PG_HEX(column) "(" column " ~ '^[0-9a-f]+$')"
#define PG_SHA256(column) "(" column " ~ '^[0-9a-f]{64}$')"

// Version 1: the schema of SQLite's version 4, in one step. Beyond SQLite's constraints:
//   - audit_head holds exactly one row: the id and row_hash of the newest enrollment_events row
//     (0 and the genesis hash when there is none). Every write transaction of PgStore and
//     PgWriter starts by locking it (SELECT ... FOR UPDATE) and every event insert advances it in
//     the same transaction, so the row lock is the database's one write lock: two connections
//     (two replicas) never decide on the same state, and the chain never forks. It is a row that
//     always exists, so the lock is real (a FOR UPDATE on a row not yet inserted locks nothing).
//   - enrollment_events.id is taken from audit_head (last_id + 1), so ids are consecutive, as the
//     chain's rule (db/audit.h) requires.
//   - issuance_intents.rowid: insertion order, named after SQLite's implicit rowid so that the
//     backend-neutral audit queries (db/audit_state.cc) read both engines alike.
constexpr std::array kMigrationV1 = {
R"sql(CREATE TABLE certificates (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  serial text NOT NULL UNIQUE CHECK )sql" PG_HEX("serial") R"sql(,
  device_id text NOT NULL,
  subject text NOT NULL,
  san text NOT NULL,
  not_before )sql" PG_TIME R"sql( NOT NULL CHECK )sql" PG_ISO8601("not_before") R"sql(,
  not_after )sql" PG_TIME R"sql( NOT NULL CHECK )sql" PG_ISO8601("not_after") R"sql(,
  der bytea NOT NULL CHECK (length(der) > 0),
  fingerprint_sha256 text NOT NULL UNIQUE CHECK )sql" PG_SHA256("fingerprint_sha256") R"sql(,
  public_key_sha256 text NOT NULL CHECK )sql" PG_SHA256("public_key_sha256") R"sql(,
  auth_cert_issuer text NOT NULL,
  auth_cert_serial text NOT NULL,
  auth_cert_fingerprint text NOT NULL CHECK )sql" PG_SHA256("auth_cert_fingerprint") R"sql(,
  kind text NOT NULL CHECK (kind IN ('enroll', 'reenroll')),
  peer text NOT NULL,
  issued_at )sql" PG_TIME R"sql( NOT NULL CHECK )sql" PG_ISO8601("issued_at") R"sql(,
  revoked_at )sql" PG_TIME R"sql( NULL CHECK (revoked_at IS NULL OR )sql" PG_ISO8601("revoked_at") R"sql(),
  revocation_reason integer NULL
    CHECK (revocation_reason IS NULL OR (revocation_reason BETWEEN 0 AND 10
                                         AND revocation_reason <> 7)),
  profile text NOT NULL DEFAULT '',
  CHECK (revocation_reason IS NULL OR revoked_at IS NOT NULL)
))sql",
"CREATE INDEX certificates_device_id ON certificates (device_id)",
"CREATE INDEX certificates_public_key_sha256 ON certificates (public_key_sha256)",
"CREATE INDEX certificates_auth_cert_fingerprint ON certificates (auth_cert_fingerprint)",
"CREATE INDEX certificates_revoked_not_after ON certificates (not_after) WHERE revoked_at IS NOT NULL",
"CREATE INDEX certificates_unrevoked_not_after ON certificates (not_after) WHERE revoked_at IS NULL",
R"sql(CREATE TABLE enrollment_events (
  id bigint PRIMARY KEY CHECK (id > 0),
  time )sql" PG_TIME R"sql( NOT NULL CHECK )sql" PG_ISO8601("time") R"sql(,
  peer text NOT NULL,
  presented_fingerprint text NOT NULL
    CHECK (presented_fingerprint = '' OR )sql" PG_SHA256("presented_fingerprint") R"sql(),
  presented_subject text NOT NULL,
  device_id text NOT NULL,
  endpoint text NOT NULL,
  outcome text NOT NULL CHECK (outcome <> ''),
  http_status integer NOT NULL CHECK (http_status = 0 OR http_status BETWEEN 100 AND 599),
  reason text NOT NULL,
  serial text NULL REFERENCES certificates (serial),
  prev_hash text NOT NULL CHECK )sql" PG_SHA256("prev_hash") R"sql(,
  row_hash text NOT NULL CHECK )sql" PG_SHA256("row_hash") R"sql(,
  CHECK (serial IS NULL OR outcome = 'issued')
))sql",
"CREATE INDEX enrollment_events_device_id ON enrollment_events (device_id)",
"CREATE INDEX enrollment_events_presented_fingerprint ON enrollment_events (presented_fingerprint)",
"CREATE INDEX enrollment_events_time ON enrollment_events (time)",
"CREATE INDEX enrollment_events_serial ON enrollment_events (serial)",
R"sql(CREATE TABLE audit_head (
  id integer PRIMARY KEY CHECK (id = 1),
  last_id bigint NOT NULL CHECK (last_id >= 0),
  last_hash text NOT NULL CHECK )sql" PG_SHA256("last_hash") R"sql(
))sql",
R"sql(CREATE TABLE bootstrap_denylist (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  fingerprint text NULL CHECK (fingerprint IS NULL OR )sql" PG_SHA256("fingerprint") R"sql(),
  issuer text NULL CHECK (issuer IS NULL OR issuer <> ''),
  serial text NULL CHECK (serial IS NULL OR )sql" PG_HEX("serial") R"sql(),
  reason text NOT NULL,
  added_at )sql" PG_TIME R"sql( NOT NULL CHECK )sql" PG_ISO8601("added_at") R"sql(,
  CHECK (fingerprint IS NOT NULL OR (issuer IS NOT NULL AND serial IS NOT NULL))
))sql",
"CREATE INDEX bootstrap_denylist_fingerprint ON bootstrap_denylist (fingerprint)",
"CREATE INDEX bootstrap_denylist_issuer_serial ON bootstrap_denylist (issuer, serial)",
R"sql(CREATE TABLE crl_state (
  id integer PRIMARY KEY CHECK (id = 1),
  number bigint NOT NULL CHECK (number >= 0)
))sql",
"INSERT INTO crl_state (id, number) VALUES (1, 0)",
R"sql(CREATE TABLE issuance_intents (
  serial text PRIMARY KEY CHECK )sql" PG_HEX("serial") R"sql(,
  device_id text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('enroll', 'reenroll')),
  public_key_sha256 text NOT NULL CHECK )sql" PG_SHA256("public_key_sha256") R"sql(,
  auth_cert_fingerprint text NOT NULL CHECK )sql" PG_SHA256("auth_cert_fingerprint") R"sql(,
  auth_cert_issuer text NOT NULL,
  auth_cert_serial text NOT NULL,
  tbs bytea NOT NULL CHECK (length(tbs) > 0),
  not_after )sql" PG_TIME R"sql( NOT NULL CHECK )sql" PG_ISO8601("not_after") R"sql(,
  peer text NOT NULL,
  created_at )sql" PG_TIME R"sql( NOT NULL CHECK )sql" PG_ISO8601("created_at") R"sql(,
  status text NOT NULL CHECK (status IN ('pending', 'issued')),
  revoked_at )sql" PG_TIME R"sql( NULL CHECK (revoked_at IS NULL OR )sql" PG_ISO8601("revoked_at") R"sql(),
  revocation_reason integer NULL
    CHECK (revocation_reason IS NULL OR (revocation_reason BETWEEN 0 AND 10
                                         AND revocation_reason <> 7)),
  profile text NOT NULL DEFAULT '',
  rowid bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  CHECK (revocation_reason IS NULL OR revoked_at IS NOT NULL)
))sql",
"CREATE INDEX issuance_intents_auth_cert_fingerprint ON issuance_intents (auth_cert_fingerprint)",
"CREATE INDEX issuance_intents_public_key_sha256 ON issuance_intents (public_key_sha256)",
"CREATE INDEX issuance_intents_device_id ON issuance_intents (device_id)",
"CREATE INDEX issuance_intents_pending ON issuance_intents (created_at) WHERE status = 'pending'",
"CREATE INDEX issuance_intents_revoked_not_after ON issuance_intents (not_after) WHERE revoked_at IS NOT NULL",
R"sql(CREATE TABLE device_blocks (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  device_id text NOT NULL CHECK (device_id <> ''),
  reason text NOT NULL,
  blocked_at )sql" PG_TIME R"sql( NOT NULL CHECK )sql" PG_ISO8601("blocked_at") R"sql(,
  lifted_at )sql" PG_TIME R"sql( NULL CHECK (lifted_at IS NULL OR )sql" PG_ISO8601("lifted_at") R"sql(),
  lift_reason text NULL,
  CHECK ((lifted_at IS NULL) = (lift_reason IS NULL))
))sql",
"CREATE UNIQUE INDEX device_blocks_active ON device_blocks (device_id) WHERE lifted_at IS NULL",
R"sql(CREATE VIEW active_certificates AS
  SELECT id, serial, device_id, subject, san, not_before, not_after, der, fingerprint_sha256,
         public_key_sha256, auth_cert_issuer, auth_cert_serial, auth_cert_fingerprint, kind, peer,
         issued_at
  FROM certificates
  WHERE revoked_at IS NULL
    AND not_after > to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))sql",
};

#undef PG_SHA256
#undef PG_HEX
#undef PG_ISO8601
#undef PG_TIME
// clang-format on

constexpr const char* kCreateVersionTable =
    "CREATE TABLE IF NOT EXISTS schema_version (id integer PRIMARY KEY CHECK (id = 1), "
    "version integer NOT NULL CHECK (version >= 0))";
constexpr const char* kVersionTableExists =
    "SELECT to_regclass('schema_version') IS NOT NULL";
constexpr const char* kSelectVersion = "SELECT version FROM schema_version WHERE id = 1";
constexpr const char* kStoreVersion =
    "INSERT INTO schema_version (id, version) VALUES (1, $1) "
    "ON CONFLICT (id) DO UPDATE SET version = excluded.version";
// Any fixed key: migrate runs of every replica take turns on it.
constexpr const char* kMigrationLock = "SELECT pg_advisory_xact_lock(7150436166990111857)";
constexpr const char* kInsertHead = "INSERT INTO audit_head (id, last_id, last_hash) VALUES (1, 0, $1)";

Result<void> MigrateToV1(PgConn& db) {
  for (const char* sql : kMigrationV1) {
    if (auto r = db.Run(sql); !r) return std::unexpected(r.error());
  }
  if (auto r = db.Run(kInsertHead, PgParams().Text(kGenesisHash)); !r) {
    return std::unexpected(r.error());
  }
  return {};
}

// Version 2: less storage per enrollment, as SQLite's version 5 (db/schema_compact.cc, which
// says why): an issued intent keeps tbs_sha256 instead of its TBS; the intent lookups' indexes
// hold pending rows only; three enrollment_events indexes no statement used are gone.
constexpr std::array kMigrationV2Compact = {
    "ALTER TABLE issuance_intents ALTER COLUMN tbs DROP NOT NULL",
    "ALTER TABLE issuance_intents ADD COLUMN tbs_sha256 text NULL "
    "CHECK (tbs_sha256 ~ '^[0-9a-f]{64}$')",
    "UPDATE issuance_intents SET tbs_sha256 = encode(sha256(tbs), 'hex'), tbs = NULL "
    "WHERE status = 'issued'",
    "ALTER TABLE issuance_intents ADD CONSTRAINT issuance_intents_tbs_or_hash "
    "CHECK ((tbs IS NULL) <> (tbs_sha256 IS NULL))",
    "ALTER TABLE issuance_intents ADD CONSTRAINT issuance_intents_pending_has_tbs "
    "CHECK (tbs IS NOT NULL OR status = 'issued')",
    "DROP INDEX issuance_intents_auth_cert_fingerprint",
    "DROP INDEX issuance_intents_public_key_sha256",
    "DROP INDEX issuance_intents_device_id",
    "CREATE INDEX issuance_intents_auth_cert_fingerprint ON issuance_intents "
    "(auth_cert_fingerprint) WHERE status = 'pending'",
    "CREATE INDEX issuance_intents_public_key_sha256 ON issuance_intents (public_key_sha256) "
    "WHERE status = 'pending'",
    "CREATE INDEX issuance_intents_device_id ON issuance_intents (device_id) "
    "WHERE status = 'pending'",
    "DROP INDEX enrollment_events_device_id",
    "DROP INDEX enrollment_events_presented_fingerprint",
    "DROP INDEX enrollment_events_serial",
};

Result<void> MigrateToV2Compact(PgConn& db) {
  for (const char* sql : kMigrationV2Compact) {
    if (auto r = db.Run(sql); !r) return std::unexpected(r.error());
  }
  return {};
}

using PgMigrationStep = Result<void> (*)(PgConn&);
constexpr std::array<PgMigrationStep, 10> kPgMigrations = {
    MigrateToV1, MigrateToV2Compact, MigratePgLeanEnrollments, PgMigrateAddGrants,
    PgMigrateAddManifests, PgMigrateAddCaGenerations, PgMigrateAddTidy, PgMigrateChainBytes,
    PgMigrateChainLink, PgMigrateSha256Bytes};
static_assert(kPgMigrations.size() == kPgSchemaVersion, "one migration per schema version");

// One step in its own transaction: the lock, the version read under it, the step, the new version.
Result<void> MigrateStep(PgConn& db, int version) {
  if (auto r = db.Run("BEGIN"); !r) return std::unexpected(r.error());
  auto step = [&]() -> Result<void> {
    if (auto r = db.Run(kMigrationLock); !r) return std::unexpected(r.error());
    if (auto r = db.Run(kCreateVersionTable); !r) return std::unexpected(r.error());
    auto current = PgSchemaVersion(db);
    if (!current) return std::unexpected(current.error());
    if (*current >= version) return {};  // another migrate run applied it while we waited
    if (auto r = kPgMigrations[version - 1](db); !r) return r;
    if (auto r = db.Run(kStoreVersion, PgParams().Int(version)); !r) {
      return std::unexpected(r.error());
    }
    return {};
  };
  Result<void> result = step();
  if (result) {
    if (auto r = db.Run("COMMIT"); !r) result = std::unexpected(r.error());
  }
  if (!result) db.RollbackIfOpen();
  return result;
}

}  // namespace

Result<int> PgSchemaVersion(PgConn& db) {
  auto exists = db.Query(kVersionTableExists);
  if (!exists) return std::unexpected(exists.error());
  if (exists->empty() || exists->Row(0).Text(0) != "t") return 0;
  auto rows = db.Query(kSelectVersion);
  if (!rows) return std::unexpected(rows.error());
  if (rows->empty() || rows->Row(0).IsNull(0)) return 0;
  return static_cast<int>(rows->Row(0).Int(0));
}

Result<void> PgMigrateTo(PgConn& db, int target_version) {
  if (target_version < 0 || target_version > kPgSchemaVersion) {
    return base::Fail(Code::kInternal,
                      "PgMigrateTo: no schema version " + std::to_string(target_version));
  }
  auto from_version = PgSchemaVersion(db);
  if (!from_version) return std::unexpected(from_version.error());
  if (*from_version > kPgSchemaVersion) {
    return base::Fail(Code::kSchema, "schema_version: the database is at schema version " +
                                         std::to_string(*from_version) +
                                         ", this program knows up to " +
                                         std::to_string(kPgSchemaVersion));
  }
  for (int version = *from_version + 1; version <= target_version; ++version) {
    if (auto r = MigrateStep(db, version); !r) return r;
  }
  return {};
}

Result<void> PgCheckSchema(PgConn& db) {
  auto version = PgSchemaVersion(db);
  if (!version) return std::unexpected(version.error());
  if (*version == kPgSchemaVersion) return {};
  std::string what = "schema_version: the database is at schema version " +
                     std::to_string(*version) + ", this program needs " +
                     std::to_string(kPgSchemaVersion);
  if (*version < kPgSchemaVersion) what += "; run `provisiond migrate` first";
  return base::Fail(Code::kSchema, what);
}

}  // namespace db
