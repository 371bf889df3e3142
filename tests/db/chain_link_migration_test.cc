// chain_link_migration_test.cc — enrollment_events.prev_hash dropped (SQLite migration 12,
// PostgreSQL 9; db/schema_chain_link.h). A store with enrollments, a revocation, a block, CA
// generations, a chain tidy truncated (audit_chain_base) and a pending intent is put back into
// the previous version's form (prev_hash filled from the row below, or the base; the version's
// own column definitions, checked against a store freshly migrated to that version), migrated,
// and then: every row kept with its id and hash, audit verify (whole and from a checkpoint taken
// before), list, revoke, tidy, the archive's check and the pending intent's Complete work.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "db/pg_conn.h"
#include "db/pg_schema.h"
#include "db/pg_store.h"
#include "db/schema.h"
#include "db/schema_chain_link.h"
#include "tests/db/backend.h"
#include "tests/db/chain_store_fixture.h"
#include "tests/db/pg_v1_store_fixture.h"
#include "tests/db/sqlite_fixture.h"
#include "tests/db/tamper.h"

namespace db::testing {
namespace {

// enrollment_events' table and indexes as sqlite_master holds them, whitespace left out.
constexpr const char* kSqliteEventsSchema =
    "SELECT group_concat(name || ':' || replace(replace(sql, ' ', ''), char(10), ''), ';') "
    "FROM (SELECT name, sql FROM sqlite_master WHERE tbl_name = 'enrollment_events' "
    "ORDER BY name)";
// Every row's id and row_hash, and every covered column.
constexpr const char* kSqliteRows =
    "SELECT group_concat(id || ':' || lower(hex(row_hash)) || ':' || reason || ':' || "
    "coalesce(serial, '-'), ',') FROM (SELECT * FROM enrollment_events ORDER BY id)";

}  // namespace

TEST_CASE("SQLite: a version 11 store drops prev_hash, keeps every row and keeps working") {
  static_assert(kSchemaVersion > kChainLinkFromVersion);
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
  REQUIRE(base.first_id > 1);
  const int64_t dangling = QueryRawInt(OpenRaw(path).get(),
                                      "SELECT count(*) FROM pragma_foreign_key_check");
  SqliteBackToV11(path, base);
  {
    RawDb fresh = OpenRaw(dir.File("v11.db"), /*create=*/true);
    REQUIRE(MigrateTo(fresh.get(), kChainLinkFromVersion).has_value());
    CHECK(QueryRaw(OpenRaw(path).get(), kSqliteEventsSchema) ==
          QueryRaw(fresh.get(), kSqliteEventsSchema));
  }
  const std::string rows = QueryRaw(OpenRaw(path).get(), kSqliteRows);
  // The version 11 form is a valid chain: each prev_hash is the row below's row_hash.
  CHECK(QueryRawInt(OpenRaw(path).get(),
                    "SELECT count(*) FROM enrollment_events e JOIN enrollment_events p ON "
                    "p.id = e.id - 1 WHERE e.prev_hash <> p.row_hash") == 0);
  // A checkpoint taken before the migration (the row two below the head).
  const int64_t checkpoint_id = base.first_id + 2;
  const std::string checkpoint_hash = QueryRaw(
      OpenRaw(path).get(), "SELECT lower(hex(row_hash)) FROM enrollment_events WHERE id = " +
                               std::to_string(checkpoint_id));

  auto store = OpenOrDie(path);
  RawDb raw = OpenRaw(path);
  CHECK(QueryRawInt(raw.get(), "PRAGMA user_version") == kSchemaVersion);
  CHECK(QueryRawInt(raw.get(), "SELECT count(*) FROM pragma_table_info('enrollment_events') "
                               "WHERE name = 'prev_hash'") == 0);
  CHECK(QueryRaw(raw.get(), kSqliteRows) == rows);
  CHECK(QueryRawInt(raw.get(), "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND "
                               "tbl_name = 'enrollment_events'") == 3);
  // The issued event of the certificate tidy removed stays (as tidy leaves it), nothing more.
  CHECK(dangling == 1);
  CHECK(QueryRawInt(raw.get(), "SELECT count(*) FROM pragma_foreign_key_check") == dangling);
  CHECK(store->EffectiveSettings().value().foreign_keys == 1);
  AuditReport from = store->VerifyAuditChainFrom(checkpoint_id, checkpoint_hash).value();
  CHECK_MESSAGE(from.ok, from.problem);
  CHECK(from.head_hash == before.head_hash);
  WorksAfterMigration(*store, before, base);
}

TEST_CASE("PostgreSQL: a version 8 database drops prev_hash, keeps every row and keeps working") {
  static_assert(kPgSchemaVersion > kPgChainLinkFromVersion);
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
  REQUIRE(base.first_id > 1);
  auto conn = PgConn::Connect(conninfo);
  REQUIRE_MESSAGE(conn.has_value(), (conn ? "" : conn.error().detail));
  PgConn& db = **conn;
  // Columns by name (PgBackToV8 adds prev_hash last; a fresh version 8 has it before row_hash).
  const char* kTypes =
      "SELECT string_agg(column_name || ' ' || data_type || ' ' || is_nullable, ',' ORDER BY "
      "column_name) FROM information_schema.columns WHERE table_name = 'enrollment_events'";
  const char* kChecks =
      "SELECT string_agg(conname || ' ' || pg_get_constraintdef(oid), ';' ORDER BY conname) FROM "
      "pg_constraint WHERE conrelid = 'enrollment_events'::regclass";
  const char* kRows =
      "SELECT string_agg(id || ':' || encode(row_hash, 'hex') || ':' || reason || ':' || "
      "coalesce(serial, '-'), ',' ORDER BY id) FROM enrollment_events";
  PgBackToV8(db, base);
  {
    auto fresh = PgConn::Connect(PgTestDatabase::For(fresh_dir, /*migrate=*/false));
    REQUIRE(fresh.has_value());
    REQUIRE(PgMigrateTo(**fresh, kPgChainLinkFromVersion).has_value());
    CHECK(One(db, kTypes) == One(**fresh, kTypes));
    CHECK(One(db, kChecks) == One(**fresh, kChecks));
  }
  const std::string rows = One(db, kRows);
  const int64_t checkpoint_id = base.first_id + 2;
  const std::string checkpoint_hash =
      One(db, "SELECT encode(row_hash, 'hex') FROM enrollment_events WHERE id = " +
                  std::to_string(checkpoint_id));

  REQUIRE(PgStore::Migrate(conninfo).has_value());
  CHECK(One(db, "SELECT version FROM schema_version") == std::to_string(kPgSchemaVersion));
  CHECK(One(db, "SELECT count(*) FROM information_schema.columns WHERE table_name = "
                "'enrollment_events' AND column_name = 'prev_hash'") == "0");
  CHECK(One(db, kRows) == rows);
  auto store = PgBackend::Open(dir);
  AuditReport from = store->VerifyAuditChainFrom(checkpoint_id, checkpoint_hash).value();
  CHECK_MESSAGE(from.ok, from.problem);
  CHECK(from.head_hash == before.head_hash);
  WorksAfterMigration(*store, before, base);
}

// Without prev_hash a checkpoint's row is rehashed with its link: the row below it, or the chain's
// base once tidy removed that row. An edit of the checkpoint's row that keeps its row_hash shows.
TEST_CASE_TEMPLATE("from a checkpoint, its row's edit shows through the row below or the base",
                   Backend, PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = Backend::Open(dir);
  Populate(*store);
  const int64_t first = store->AuditChainBase().value().first_id;
  int64_t id = 0;
  SUBCASE("the first row kept, linked to the base") { id = first; }
  SUBCASE("a row with the row below it") { id = first + 1; }
  CAPTURE(id);
  std::vector<ChainRow> rows = store->ChainRows(id, id + 1, 1).value();
  REQUIRE(rows.size() == 1);
  AuditReport clean = store->VerifyAuditChainFrom(id, rows[0].row_hash).value();
  CHECK_MESSAGE(clean.ok, clean.problem);
  Tamper<Backend>(dir, "UPDATE enrollment_events SET reason = 'edited' WHERE id = " +
                           std::to_string(id));
  AuditReport r = store->VerifyAuditChainFrom(id, rows[0].row_hash).value();
  CHECK_FALSE(r.ok);
  CHECK(r.first_bad_id == id);
  CHECK_MESSAGE(r.problem.find("was altered") != std::string::npos, r.problem);
}

// The base names the first row kept; moving it to a later row (to make that row look like the
// first one kept) after deleting the rows below leaves that row without its link: it fails.
TEST_CASE_TEMPLATE("from a checkpoint, a base moved by hand does not vouch for an edited row",
                   Backend, PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = Backend::Open(dir);
  Populate(*store);
  const int64_t id = store->AuditChainBase().value().first_id + 2;
  std::vector<ChainRow> rows = store->ChainRows(id, id + 1, 1).value();
  REQUIRE(rows.size() == 1);
  Tamper<Backend>(dir, "DELETE FROM enrollment_events WHERE id < " + std::to_string(id));
  Tamper<Backend>(dir, "UPDATE audit_chain_base SET first_id = " + std::to_string(id + 1));
  Tamper<Backend>(dir, "UPDATE enrollment_events SET reason = 'edited' WHERE id = " +
                           std::to_string(id));
  AuditReport r = store->VerifyAuditChainFrom(id, rows[0].row_hash).value();
  CHECK_FALSE(r.ok);
  CHECK(r.first_bad_id == id);
}

}  // namespace db::testing
