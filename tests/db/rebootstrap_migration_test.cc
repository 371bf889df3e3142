// rebootstrap_migration_test.cc — the schema step that adds rebootstrap_grants (SQLite
// db/schema_grants.cc, PostgreSQL db/pg_schema_grants.cc): a store at the version before it
// migrates, keeps its rows and chain, and its grants then work and are audited.
#include <doctest/doctest.h>

#include <string>

#include "db/pg_conn.h"
#include "db/pg_schema.h"
#include "db/pg_schema_grants.h"
#include "db/pg_store.h"
#include "db/schema.h"
#include "db/schema_grants.h"
#include "tests/db/admin_writes.h"
#include "tests/db/pg_fixture.h"
#include "tests/db/sqlite_fixture.h"
#include "tests/db/store_fixture.h"

namespace db::testing {
namespace {

const RebootstrapGrant kGrant{.device_id = "device-1",
                              .reason = "reset",
                              .granted_at = "2026-08-29T07:00:00Z",
                              .expires_at = "2026-08-30T07:00:00Z"};

// On a migrated store: a grant is recorded, spent by a new key and the chain verifies.
void GrantWorks(Store& store) {
  Issue(store, EnrollCertificate(1, 1, "device-1", HashHex(1, 'c')));
  REQUIRE(GrantAsAdmin(store, kGrant).value().has_value());
  CHECK(ReserveOrDie(store, EnrollIntent(2, 2, "device-1", HashHex(1, 'c'))).decision ==
        Decision::kReserved);
  auto report = store.VerifyAuditChain().value();
  CHECK_MESSAGE(report.ok, report.problem);
}

TEST_CASE("SQLite: a file at the version before grants migrates and its grants work") {
  TempDir dir;
  const std::string path = dir.File("store.db");
  {
    RawDb raw = OpenRaw(path, /*create=*/true);
    REQUIRE(MigrateTo(raw.get(), kGrantsFromVersion).has_value());
    CHECK(QueryRaw(raw.get(), "SELECT count(*) FROM sqlite_master WHERE name = "
                              "'rebootstrap_grants'") == "0");
  }
  auto store = OpenOrDie(path);
  CHECK(QueryRawInt(OpenRaw(path).get(), "PRAGMA user_version") == kSchemaVersion);
  GrantWorks(*store);
}

TEST_CASE("PostgreSQL: a database at the version before grants migrates and its grants work") {
  TempDir dir;
  const std::string conninfo = PgTestDatabase::For(dir, /*migrate=*/false);
  {
    auto conn = PgConn::Connect(conninfo);
    REQUIRE_MESSAGE(conn.has_value(), (conn ? "" : conn.error().detail));
    REQUIRE(PgMigrateTo(**conn, kPgGrantsFromVersion).has_value());
    auto rows = (*conn)->Query("SELECT to_regclass('rebootstrap_grants') IS NULL");
    REQUIRE(rows.has_value());
    CHECK(rows->Row(0).Text(0) == "t");
  }
  REQUIRE(PgStore::Migrate(conninfo).has_value());
  auto store = PgStore::Open(conninfo);
  REQUIRE_MESSAGE(store.has_value(), (store ? "" : store.error().detail));
  GrantWorks(**store);
}

}  // namespace
}  // namespace db::testing
