// chain_bytes_migration_test.cc — the audit chain's hashes as 32 bytes (SQLite migration 11,
// PostgreSQL 8; db/schema_chain_bytes.h). A store with enrollments, a revocation, a block, CA
// generations and a chain tidy truncated (audit_chain_base) is put back into the previous
// version's form (hex text hashes, the version's own column definitions, checked against a
// store freshly migrated to that version), migrated, and then: every row kept with its id and
// hash, the bytes read back as the same hex, audit verify, list, revoke, tidy and the archive's
// check work, and an edited row or hash still shows.
#include <doctest/doctest.h>

#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "ca/encoding.h"
#include "db/pg_conn.h"
#include "db/pg_schema.h"
#include "db/pg_store.h"
#include "db/schema.h"
#include "db/schema_chain_bytes.h"
#include "tests/db/backend.h"
#include "tests/db/chain_store_fixture.h"
#include "tests/db/pg_v1_store_fixture.h"
#include "tests/db/sqlite_fixture.h"
#include "tests/db/tamper.h"

namespace db::testing {
namespace {

// SQLite: enrollment_events as versions 2 to 10 defined it (db/schema.cc kMigrationV2Events and
// the indexes of versions 5, 6 and 8), filled from the migrated table with the hashes as hex.
constexpr const char* kSqliteBackToV10 = R"sql(
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
CREATE TABLE enrollment_events_v2 (
  id INTEGER PRIMARY KEY,
  time TEXT NOT NULL CHECK (time GLOB
    '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]Z'),
  peer TEXT NOT NULL,
  presented_fingerprint TEXT NOT NULL
    CHECK (presented_fingerprint = '' OR (length(presented_fingerprint) = 64 AND
      (presented_fingerprint <> '' AND presented_fingerprint NOT GLOB '*[^0-9a-f]*'))),
  presented_subject TEXT NOT NULL,
  device_id TEXT NOT NULL,
  endpoint TEXT NOT NULL,
  outcome TEXT NOT NULL CHECK (outcome <> ''),
  http_status INTEGER NOT NULL CHECK (http_status = 0 OR http_status BETWEEN 100 AND 599),
  reason TEXT NOT NULL,
  serial TEXT NULL REFERENCES certificates (serial),
  prev_hash TEXT NOT NULL CHECK (length(prev_hash) = 64 AND
    (prev_hash <> '' AND prev_hash NOT GLOB '*[^0-9a-f]*')),
  row_hash TEXT NOT NULL CHECK (length(row_hash) = 64 AND
    (row_hash <> '' AND row_hash NOT GLOB '*[^0-9a-f]*')),
  CHECK (serial IS NULL OR outcome = 'issued')
) STRICT;
INSERT INTO enrollment_events_v2 SELECT id, time, peer, presented_fingerprint, presented_subject,
  device_id, endpoint, outcome, http_status, reason, serial, lower(hex(prev_hash)),
  lower(hex(row_hash)) FROM enrollment_events ORDER BY id;
DROP TABLE enrollment_events;
ALTER TABLE enrollment_events_v2 RENAME TO enrollment_events;
CREATE INDEX enrollment_events_time ON enrollment_events (time) WHERE outcome <> 'issued';
CREATE INDEX enrollment_events_server_key ON enrollment_events (time)
  WHERE reason = 'issued_server_key';
CREATE INDEX enrollment_events_presented_fingerprint ON enrollment_events (presented_fingerprint)
  WHERE presented_fingerprint <> '';
PRAGMA user_version = 10;
COMMIT;
PRAGMA foreign_keys = ON;
)sql";

// enrollment_events' table and indexes as sqlite_master holds them, whitespace left out.
constexpr const char* kSqliteEventsSchema =
    "SELECT group_concat(name || ':' || replace(replace(sql, ' ', ''), char(10), ''), ';') "
    "FROM (SELECT name, sql FROM sqlite_master WHERE tbl_name = 'enrollment_events' "
    "ORDER BY name)";
// Every row's id and hashes as hex, whichever form they are stored in.
constexpr const char* kSqliteChain =
    "SELECT group_concat(id || ':' || (CASE typeof(prev_hash) WHEN 'blob' THEN "
    "lower(hex(prev_hash)) ELSE prev_hash END) || ':' || (CASE typeof(row_hash) WHEN 'blob' "
    "THEN lower(hex(row_hash)) ELSE row_hash END), ',') FROM (SELECT * FROM enrollment_events "
    "ORDER BY id)";

}  // namespace

TEST_CASE("SQLite: a version 10 store migrates its chain to 32-byte hashes and keeps working") {
  static_assert(kSchemaVersion > kChainBytesFromVersion);
  TempDir dir;
  const std::string path = dir.File("store.db");
  AuditReport before{};
  ChainBase base;
  {
    auto store = OpenOrDie(path);
    Populate(*store);
    before = Verify(*store);
    base = store->AuditChainBase().value();
  }
  SqliteBackToV11(path, base);  // prev_hash as version 11 stored it, then version 10's form
  ExecRaw(OpenRaw(path).get(), kSqliteBackToV10);
  {
    RawDb fresh = OpenRaw(dir.File("v10.db"), /*create=*/true);
    REQUIRE(MigrateTo(fresh.get(), kChainBytesFromVersion).has_value());
    CHECK(QueryRaw(OpenRaw(path).get(), kSqliteEventsSchema) ==
          QueryRaw(fresh.get(), kSqliteEventsSchema));
  }
  const std::string chain = QueryRaw(OpenRaw(path).get(), kSqliteChain);
  const char* kIndexes =
      "SELECT group_concat(name) FROM (SELECT name FROM sqlite_master WHERE type = 'index' AND "
      "tbl_name = 'enrollment_events' ORDER BY name)";
  const std::string indexes = QueryRaw(OpenRaw(path).get(), kIndexes);
  CHECK(indexes.find("enrollment_events_presented_fingerprint") != std::string::npos);
  CHECK(QueryRawInt(OpenRaw(path).get(),
                    "SELECT count(*) FROM enrollment_events WHERE typeof(row_hash) = 'text'") ==
        before.rows_checked);

  // Migration 11 alone (12, prev_hash dropped, has its own test: chain_link_migration_test.cc).
  REQUIRE(MigrateTo(OpenRaw(path).get(), kChainBytesFromVersion + 1).has_value());
  RawDb raw = OpenRaw(path);
  CHECK(QueryRawInt(raw.get(), "PRAGMA user_version") == kChainBytesFromVersion + 1);
  CHECK(QueryRaw(raw.get(), kSqliteChain) == chain);
  CHECK(QueryRaw(raw.get(), kIndexes) == indexes);
  // The issued event of the certificate tidy removed is kept (foreign keys off for the rebuild).
  CHECK(QueryRawInt(raw.get(), "SELECT count(*) FROM enrollment_events WHERE serial = '" +
                                   SerialHex(3) + "'") == 1);
  CHECK(QueryRawInt(raw.get(),
                    "SELECT count(*) FROM enrollment_events WHERE typeof(row_hash) = "
                    "'blob' AND length(row_hash) = 32 AND typeof(prev_hash) = 'blob' "
                    "AND length(prev_hash) = 32") == before.rows_checked);
  auto store = OpenOrDie(path);
  CHECK(store->EffectiveSettings().value().foreign_keys == 1);  // on again after the rebuild
  WorksAfterMigration(*store, before, base);
}

TEST_CASE(
    "PostgreSQL: a version 7 database migrates its chain to 32-byte hashes and keeps "
    "working") {
  static_assert(kPgSchemaVersion > kPgChainBytesFromVersion);
  TempDir dir;
  TempDir fresh_dir;
  const std::string conninfo = PgTestDatabase::For(dir);
  AuditReport before{};
  ChainBase base;
  {
    auto store = PgBackend::Open(dir);
    Populate(*store);
    before = Verify(*store);
    base = store->AuditChainBase().value();
  }
  auto conn = PgConn::Connect(conninfo);
  REQUIRE_MESSAGE(conn.has_value(), (conn ? "" : conn.error().detail));
  PgConn& db = **conn;
  const char* kTypes =
      "SELECT string_agg(column_name || ' ' || data_type, ',' ORDER BY column_name) FROM "
      "information_schema.columns WHERE table_name = 'enrollment_events'";
  const char* kChecks =
      "SELECT string_agg(conname || ' ' || pg_get_constraintdef(oid), ';' ORDER BY conname) FROM "
      "pg_constraint WHERE conrelid = 'enrollment_events'::regclass";
  const char* kChain =
      "SELECT string_agg(id || ':' || ltrim(prev_hash::text, '\\x') || ':' || "
      "ltrim(row_hash::text, '\\x'), ',' ORDER BY id) FROM enrollment_events";
  PgBackToV8(db, base);  // prev_hash as version 8 stored it, then version 7's form
  for (const char* sql :
       {"BEGIN",
        "ALTER TABLE enrollment_events DROP CONSTRAINT enrollment_events_prev_hash_check, "
        "DROP CONSTRAINT enrollment_events_row_hash_check, "
        "ALTER COLUMN prev_hash TYPE text USING encode(prev_hash, 'hex'), "
        "ALTER COLUMN row_hash TYPE text USING encode(row_hash, 'hex'), "
        "ADD CONSTRAINT enrollment_events_prev_hash_check CHECK (prev_hash ~ '^[0-9a-f]{64}$'), "
        "ADD CONSTRAINT enrollment_events_row_hash_check CHECK (row_hash ~ '^[0-9a-f]{64}$')",
        "UPDATE schema_version SET version = 7", "COMMIT"}) {
    auto ran = db.Run(sql);
    REQUIRE_MESSAGE(ran.has_value(), (ran ? "" : ran.error().detail));
  }
  {
    auto fresh = PgConn::Connect(PgTestDatabase::For(fresh_dir, /*migrate=*/false));
    REQUIRE(fresh.has_value());
    REQUIRE(PgMigrateTo(**fresh, kPgChainBytesFromVersion).has_value());
    CHECK(One(db, kTypes) == One(**fresh, kTypes));
    CHECK(One(db, kChecks) == One(**fresh, kChecks));
  }
  const std::string chain = One(db, kChain);
  CHECK(chain.find("\\x") == std::string::npos);

  {  // Migration 8 alone (9 has its own test: chain_link_migration_test.cc).
    auto migrating = PgConn::Connect(conninfo);
    REQUIRE(migrating.has_value());
    REQUIRE(PgMigrateTo(**migrating, kPgChainBytesFromVersion + 1).has_value());
  }
  CHECK(One(db, "SELECT version FROM schema_version") ==
        std::to_string(kPgChainBytesFromVersion + 1));
  CHECK(One(db, kChain) == chain);
  CHECK(One(db,
            "SELECT count(*) FROM enrollment_events WHERE length(row_hash) = 32 AND "
            "length(prev_hash) = 32 AND pg_typeof(row_hash) = 'bytea'::regtype") ==
        std::to_string(before.rows_checked));
  CHECK(One(db, "SELECT count(*) FROM enrollment_events WHERE serial = '" + SerialHex(3) + "'") ==
        "1");
  REQUIRE(PgStore::Migrate(conninfo).has_value());
  auto store = PgBackend::Open(dir);
  WorksAfterMigration(*store, before, base);
}

TEST_CASE_TEMPLATE("32-byte chain hashes: an edited row, an edited hash and a swapped hash show",
                   Backend, PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = Backend::Open(dir);
  Populate(*store);
  const int64_t first = store->AuditChainBase().value().first_id;
  const std::string row = std::to_string(first + 1);
  const bool sqlite = std::is_same_v<Backend, SqliteBackend>;
  SUBCASE("a column edited") {
    Tamper<Backend>(dir, "UPDATE enrollment_events SET reason = 'x' WHERE id = " + row);
  }
  SUBCASE("its row_hash edited") {
    Tamper<Backend>(dir, std::string("UPDATE enrollment_events SET row_hash = ") +
                             (sqlite ? "zeroblob(32)" : "decode(repeat('00', 32), 'hex')") +
                             " WHERE id = " + row);
  }
  SUBCASE("the row before it deleted (no prev_hash column since SQLite 12 / PostgreSQL 9)") {
    Tamper<Backend>(dir, "DELETE FROM enrollment_events WHERE id = " + std::to_string(first));
  }
  AuditReport report = Verify(*store);
  CHECK_FALSE(report.ok);
  CHECK(report.first_bad_id == first + 1);
  MESSAGE(report.problem);
}

}  // namespace db::testing
