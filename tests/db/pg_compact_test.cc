// pg_compact_test.cc — PostgreSQL-only: schema version 2 (db/pg_schema.cc, as SQLite's 5): a
// version 1 database migrates with its rows and its audit chain intact, its issued intents keep
// their TBS's hash instead of the TBS (which version 3 moves onto their certificates).
#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "ca/encoding.h"
#include "db/audit.h"
#include "db/audit_state.h"
#include "db/pg_conn.h"
#include "db/pg_schema.h"
#include "db/pg_schema_lean.h"
#include "db/pg_store.h"
#include "tests/db/pg_fixture.h"
#include "tests/db/pg_v1_store_fixture.h"
#include "tests/db/store_fixture.h"

namespace db::testing {
namespace {

TEST_CASE("PostgreSQL: a version 1 database migrates to version 2 with its rows and chain") {
  TempDir dir;
  const std::string conninfo = PgTestDatabase::For(dir, /*migrate=*/false);
  auto conn = PgConn::Connect(conninfo);
  REQUIRE_MESSAGE(conn.has_value(), (conn ? "" : conn.error().detail));
  PgConn& db = **conn;
  REQUIRE(PgMigrateTo(db, 1).has_value());
  for (int n = 1; n <= 3; ++n) AddV1Issuance(db, n, n < 3);
  const std::string chain =
      One(db, "SELECT string_agg(row_hash, ',' ORDER BY id) FROM enrollment_events");
  const std::string order =
      One(db, "SELECT string_agg(serial, ',' ORDER BY rowid) FROM issuance_intents");

  // Version 2 is the version the next migration starts from (db/pg_schema_lean.h).
  REQUIRE(PgMigrateTo(db, kPgLeanFromVersion).has_value());
  CHECK(One(db, "SELECT version FROM schema_version") == "2");
  CHECK(One(db, "SELECT string_agg(row_hash, ',' ORDER BY id) FROM enrollment_events") == chain);
  CHECK(One(db, "SELECT string_agg(serial, ',' ORDER BY rowid) FROM issuance_intents") == order);
  for (int n : {1, 2}) {
    const std::string where = " FROM issuance_intents WHERE serial = '" + SerialHex(n) + "'";
    CHECK(One(db, "SELECT tbs" + where) == "NULL");
    CHECK(One(db, "SELECT tbs_sha256" + where) ==
          ca::Sha256Hex(EnrollIntent(n, n, "device-" + std::to_string(n), HashHex(n, 'c')).tbs));
  }
  CHECK(One(db, "SELECT tbs_sha256 FROM issuance_intents WHERE status = 'pending'") == "NULL");
  // The primary key and the time index (the manifests' migration, db/pg_schema_manifest.cc, adds
  // its partial fingerprint index).
  CHECK(One(db, "SELECT count(*) FROM pg_indexes WHERE tablename = 'enrollment_events' AND "
                "indexname <> 'enrollment_events_presented_fingerprint'") == "2");

  // Migrated on by this program, the store verifies: nothing was added to the chain.
  REQUIRE(PgStore::Migrate(conninfo).has_value());
  auto store = PgStore::Open(conninfo);
  REQUIRE_MESSAGE(store.has_value(), (store ? "" : store.error().detail));
  auto report = (*store)->VerifyAuditChain().value();
  CHECK_MESSAGE(report.ok, report.problem);
  CHECK(report.rows_checked == 5);
}

}  // namespace
}  // namespace db::testing
