// pg_lean_test.cc — PostgreSQL-only: schema version 3 (db/pg_schema_lean.cc, as SQLite's 6): a
// version 2 database migrates with its rows, their order and its audit chain intact, its issued
// intents' rows gone and their TBS hashes on their certificates; `audit verify` still checks them.
#include <doctest/doctest.h>

#include <string>

#include "db/pg_schema.h"
#include "db/pg_schema_lean.h"
#include "db/pg_store.h"
#include "tests/db/pg_fixture.h"
#include "tests/db/pg_v1_store_fixture.h"

namespace db::testing {
namespace {

// As hex whichever the version stores (text before version 8, bytea "\x..." as text since).
constexpr const char* kChain =
    "SELECT string_agg(ltrim(row_hash::text, '\\x'), ',' ORDER BY id) FROM enrollment_events";
constexpr const char* kCertificates =
    "SELECT string_agg(id || serial || encode(der, 'hex') || device_id, ',' ORDER BY id) "
    "FROM certificates";

std::string TbsHashOf(PgConn& db, int n) {
  // 32 bytes since schema version 10 (db/schema_sha256_bytes.h), read as hex.
  return One(db, "SELECT encode(tbs_sha256, 'hex') FROM certificates WHERE serial = '" +
                     SerialHex(n) + "'");
}

TEST_CASE("PostgreSQL: a version 2 database migrates to version 3 with its rows and chain") {
  TempDir dir;
  const std::string conninfo = PgTestDatabase::For(dir, /*migrate=*/false);
  auto conn = PgConn::Connect(conninfo);
  REQUIRE_MESSAGE(conn.has_value(), (conn ? "" : conn.error().detail));
  PgConn& db = **conn;
  REQUIRE(PgMigrateTo(db, 1).has_value());
  for (int n = 1; n <= 3; ++n) AddV1Issuance(db, n, n < 3);
  REQUIRE(PgMigrateTo(db, kPgLeanFromVersion).has_value());
  const std::string chain = One(db, kChain);
  const std::string certificates = One(db, kCertificates);

  REQUIRE(PgStore::Migrate(conninfo).has_value());
  CHECK(One(db, "SELECT version FROM schema_version") == std::to_string(kPgSchemaVersion));
  CHECK(One(db, kChain) == chain);
  CHECK(One(db, kCertificates) == certificates);
  CHECK(One(db, "SELECT string_agg(serial, ',') FROM issuance_intents") == SerialHex(3));
  for (int n : {1, 2}) {
    CHECK(TbsHashOf(db, n) ==
          ca::Sha256Hex(EnrollIntent(n, n, "device-" + std::to_string(n), HashHex(n, 'c')).tbs));
  }
  CHECK(One(db, "SELECT indexdef FROM pg_indexes WHERE indexname = 'enrollment_events_time'")
            .ends_with("WHERE (outcome <> 'issued'::text)"));

  auto store = PgStore::Open(conninfo);
  REQUIRE_MESSAGE(store.has_value(), (store ? "" : store.error().detail));
  auto report = (*store)->VerifyAuditChain().value();
  CHECK_MESSAGE(report.ok, report.problem);
  CHECK(report.rows_checked == 5);  // nothing added
  const Intent third = EnrollIntent(3, 3, "device-3", HashHex(3, 'c'));
  CompleteOrDie(**store, third);
  CHECK(One(db, "SELECT count(*) FROM issuance_intents") == "0");
  CHECK(TbsHashOf(db, 3) == ca::Sha256Hex(third.tbs));
  Issue(**store, EnrollCertificate(4, 4, "device-4", HashHex(4, 'c')));
  report = (*store)->VerifyAuditChain().value();
  CHECK_MESSAGE(report.ok, report.problem);
  // A migrated certificate's TBS hash edited by hand is named, as its intent's was.
  Ok(db.Run(("UPDATE certificates SET tbs_sha256 = decode('" + HashHex(9) + "', 'hex') WHERE serial = '" +
             SerialHex(1) + "'")
                .c_str()));
  report = (*store)->VerifyAuditChain().value();
  CHECK_FALSE(report.ok);
  CHECK_MESSAGE(report.problem.find("certificate " + SerialHex(1)) != std::string::npos,
                report.problem);
}

}  // namespace
}  // namespace db::testing
