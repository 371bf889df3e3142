// compact_test.cc — SQLite-only: schema version 5 (db/schema_compact.cc). A version 4 file
// migrates with its rows, their order and the audit chain intact, its issued intents' TBS set
// aside for their hash; `audit verify` still checks that hash (on the certificate since version 6).
#include <doctest/doctest.h>

#include <string>

#include "db/schema_lean.h"
#include "tests/db/v4_store_fixture.h"

namespace db::testing {
namespace {

TEST_CASE("a version 4 file migrates to version 5 with its rows and its audit chain intact") {
  TempDir dir;
  const std::string path = dir.File("store.db");
  MakeVersion4File(path);
  const std::string order = Raw(path, "SELECT group_concat(serial) FROM issuance_intents");
  const std::string chain =
      Raw(path,
          "SELECT group_concat(row_hash) FROM (SELECT row_hash FROM enrollment_events "
          "ORDER BY id)");
  const std::string certificates = Raw(path,
                                       "SELECT group_concat(hex(der) || serial) FROM "
                                       "(SELECT der, serial FROM certificates ORDER BY id)");

  // Version 5 is the version the next migration starts from (db/schema_lean.h).
  REQUIRE(MigrateTo(OpenRaw(path).get(), kLeanFromVersion).has_value());
  CHECK(QueryRawInt(OpenRaw(path).get(), "PRAGMA user_version") == 5);
  CHECK(Raw(path, "SELECT group_concat(serial) FROM issuance_intents") == order);
  CHECK(Raw(path,
            "SELECT group_concat(row_hash) FROM (SELECT row_hash FROM enrollment_events "
            "ORDER BY id)") == chain);
  CHECK(Raw(path,
            "SELECT group_concat(hex(der) || serial) FROM (SELECT der, serial FROM "
            "certificates ORDER BY id)") == certificates);
  for (int n : {1, 2}) {
    CHECK(IntentColumn(path, "tbs", n) == "NULL");
    CHECK(IntentColumn(path, "tbs_sha256", n) == TbsHash(n));
  }
  CHECK(IntentColumn(path, "tbs_sha256", 3) == "NULL");
  // Only the time index is left on enrollment_events; the intent lookups index pending rows.
  CHECK(Raw(path,
            "SELECT group_concat(name) FROM sqlite_schema WHERE type = 'index' AND "
            "tbl_name = 'enrollment_events' AND name <> 'enrollment_events_presented_fingerprint'") ==
        "enrollment_events_time");
  CHECK(QueryRawInt(OpenRaw(path).get(),
                    "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND tbl_name = "
                    "'issuance_intents' AND sql LIKE '%WHERE status = ''pending''%'") == 4);
  CHECK(QueryRawInt(OpenRaw(path).get(), "SELECT count(*) FROM pragma_foreign_key_check") == 0);
  // Opened by this program (migrated on), the store verifies: nothing was added to the chain.
  auto store = OpenOrDie(path);
  auto report = store->VerifyAuditChain().value();
  CHECK_MESSAGE(report.ok, report.problem);
  CHECK(report.rows_checked == 6);  // 3 intents, 2 issued, 1 revocation
}

TEST_CASE("audit verify names an issued intent whose TBS hash was edited with sqlite3") {
  TempDir dir;
  const std::string path = dir.File("store.db");
  MakeVersion4File(path);
  REQUIRE(MigrateTo(OpenRaw(path).get(), kLeanFromVersion).has_value());
  ExecRaw(OpenRaw(path).get(), "UPDATE issuance_intents SET tbs_sha256 = '" + HashHex(9) +
                                   "' WHERE serial = '" + SerialHex(1) + "'");
  // The next migration moves the (edited) hash onto the certificate, where verify finds it.
  auto store = OpenOrDie(path);
  AuditReport report = store->VerifyAuditChain().value();
  CHECK_FALSE(report.ok);
  CHECK_MESSAGE(report.problem.find(SerialHex(1)) != std::string::npos, report.problem);
}

}  // namespace
}  // namespace db::testing
