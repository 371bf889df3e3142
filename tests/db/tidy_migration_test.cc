// tidy_migration_test.cc — the schema step that adds retention (SQLite db/schema_tidy.cc,
// PostgreSQL db/pg_schema_tidy.cc): a store at the version before it migrates, its CRL bound
// starts unset, and tidy then removes an expired certificate with a tombstone and a whole chain.
#include <doctest/doctest.h>

#include <string>

#include "db/pg_conn.h"
#include "db/pg_schema.h"
#include "db/pg_store.h"
#include "db/schema.h"
#include "db/schema_tidy.h"
#include "tests/db/pg_fixture.h"
#include "tests/db/sqlite_fixture.h"
#include "tests/db/store_fixture.h"

namespace db::testing {
namespace {

// On a migrated store: no CRL bound yet, an expired certificate removed, the chain whole.
void TidyWorks(Store& store) {
  CHECK_FALSE(store.CrlDroppedBefore().value().has_value());
  CertificateRecord old = EnrollCertificate(1, 1, "device-1", HashHex(1, 'c'));
  old.not_after = "2020-01-01T00:00:00Z";
  Issue(store, old);
  const TidyBounds bounds{.expired_before = "2025-01-01T00:00:00Z", .revoked_before = {},
                          .tidied_at = "2026-12-07T00:00:00Z"};
  CHECK(store.RemoveCertificates({old.serial_hex}, bounds).value() == 1);
  CHECK(store.AuditChainBase().value().first_id == 1);
  auto report = store.VerifyAuditChain().value();
  CHECK_MESSAGE(report.ok, report.problem);
}

}  // namespace

TEST_CASE("SQLite: a file at the version before retention migrates and tidy works") {
  TempDir dir;
  const std::string path = dir.File("store.db");
  {
    RawDb raw = OpenRaw(path, /*create=*/true);
    REQUIRE(MigrateTo(raw.get(), kTidyFromVersion).has_value());
    CHECK(QueryRaw(raw.get(), "SELECT count(*) FROM sqlite_master WHERE name IN "
                              "('enroll_tombstones', 'audit_chain_base')") == "0");
  }
  auto store = OpenOrDie(path);
  CHECK(QueryRawInt(OpenRaw(path).get(), "PRAGMA user_version") == kSchemaVersion);
  TidyWorks(*store);
  CHECK(QueryRawInt(OpenRaw(path).get(), "SELECT count(*) FROM enroll_tombstones") == 1);
}

TEST_CASE("PostgreSQL: a database at the version before retention migrates, the events' foreign "
          "key becomes an insert-time trigger, and tidy works") {
  TempDir dir;
  const std::string conninfo = PgTestDatabase::For(dir, /*migrate=*/false);
  const char* kForeignKeys =
      "SELECT count(*) FROM pg_constraint WHERE conrelid = 'enrollment_events'::regclass "
      "AND contype = 'f'";
  {
    auto conn = PgConn::Connect(conninfo);
    REQUIRE_MESSAGE(conn.has_value(), (conn ? "" : conn.error().detail));
    REQUIRE(PgMigrateTo(**conn, kPgTidyFromVersion).has_value());
    CHECK((*conn)->Query(kForeignKeys).value().Row(0).Text(0) == "1");
  }
  REQUIRE(PgStore::Migrate(conninfo).has_value());
  {
    auto conn = PgConn::Connect(conninfo);
    REQUIRE(conn.has_value());
    CHECK((*conn)->Query(kForeignKeys).value().Row(0).Text(0) == "0");
  }
  auto store = PgStore::Open(conninfo);
  REQUIRE_MESSAGE(store.has_value(), (store ? "" : store.error().detail));
  TidyWorks(**store);
  // The trigger still refuses an event naming no certificate, as the key did.
  auto dangling = (*store)->RecordEvent(SampleEvent("issued", SerialHex(99)));
  REQUIRE_FALSE(dangling.has_value());
  CHECK(dangling.error().code == Code::kConstraint);
}

}  // namespace db::testing
