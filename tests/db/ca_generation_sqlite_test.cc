// ca_generation_sqlite_test.cc — CA generations on a SQLite file edited by hand: `audit verify`
// names a generation whose state or times no longer match the chain, the database refuses a
// second active generation, and a file at the version before the migration gains the tables and
// records its certificates as generation 1.
#include <doctest/doctest.h>

#include <span>
#include <string>

#include "ca/encoding.h"
#include "db/schema.h"
#include "db/schema_rollover.h"
#include "tests/db/sqlite_fixture.h"
#include "tests/db/store_fixture.h"

namespace db::testing {
namespace {

CaGeneration Generation(int64_t gen, const std::string& state) {
  CaGeneration g{.gen = gen, .state = state, .key_location = "ca.key"};
  g.cert_der = {0x30, 0x03, 0x02, 0x01, static_cast<unsigned char>(gen)};
  g.cert_sha256 = ca::Sha256Hex(std::span(g.cert_der.data(), g.cert_der.size()));
  if (gen > 1) g.new_with_old_der = g.old_with_new_der = {0x30, 0x00};
  g.created_at = "2026-08-30T00:00:00Z";
  if (state == "active") g.activated_at = g.created_at;
  return g;
}

// A store with generation 2 active and generation 1 previous.
void Activated(const std::string& path) {
  auto store = OpenOrDie(path);
  REQUIRE(store->AddCaGeneration(Generation(1, "active"), Generation(2, "pending")).value() ==
          CaChange::kDone);
  int64_t gen = 0;
  REQUIRE(store->ActivateCaGeneration("2026-09-01T00:00:00Z", &gen).value() == CaChange::kDone);
  auto report = store->VerifyAuditChain().value();
  REQUIRE_MESSAGE(report.ok, report.problem);
}

std::string VerifyProblem(const std::string& path) {
  auto report = OpenOrDie(path)->VerifyAuditChain().value();
  CHECK_FALSE(report.ok);
  return report.problem;
}

}  // namespace

TEST_CASE("SQLite: audit verify names a CA generation changed by hand") {
  TempDir dir;
  const std::string path = dir.File("store.db");
  Activated(path);
  SUBCASE("an activation time edited") {
    ExecRaw(OpenRaw(path).get(),
            "UPDATE ca_generations SET activated_at = '2026-09-09T00:00:00Z' WHERE gen = 2");
    CHECK(VerifyProblem(path).find("CA generation 2") != std::string::npos);
  }
  SUBCASE("the states swapped back") {
    RawDb raw = OpenRaw(path);  // whoever can write the file can drop the indexes too
    ExecRaw(raw.get(), "DROP INDEX ca_generations_one_active");
    ExecRaw(raw.get(), "DROP INDEX ca_generations_one_previous");
    ExecRaw(raw.get(), "UPDATE ca_generations SET state = 'previous' WHERE gen = 2");
    ExecRaw(raw.get(), "UPDATE ca_generations SET state = 'active' WHERE gen = 1");
    CHECK(VerifyProblem(path).find("CA generation 1 is active") != std::string::npos);
  }
  SUBCASE("a link certificate swapped") {
    ExecRaw(OpenRaw(path).get(),
            "UPDATE ca_generations SET new_with_old_der = x'3001ff' WHERE gen = 2");
    CHECK(VerifyProblem(path).find("CA generation 2") != std::string::npos);
  }
}

TEST_CASE("SQLite: the database refuses a second active generation") {
  TempDir dir;
  const std::string path = dir.File("store.db");
  Activated(path);
  RawDb raw = OpenRaw(path);
  CHECK(sqlite3_exec(raw.get(), "UPDATE ca_generations SET state = 'active' WHERE gen = 1",
                     nullptr, nullptr, nullptr) == SQLITE_CONSTRAINT);
}

TEST_CASE("SQLite: a file at the version before CA generations migrates and issues generation 1") {
  TempDir dir;
  const std::string path = dir.File("store.db");
  {
    RawDb raw = OpenRaw(path, /*create=*/true);
    REQUIRE(MigrateTo(raw.get(), kRolloverFromVersion).has_value());
  }
  {
    auto old = OpenRaw(path);
    CHECK(QueryRaw(old.get(), "SELECT count(*) FROM sqlite_master WHERE name = "
                              "'ca_generations'") == "0");
  }
  auto store = OpenOrDie(path);
  Issue(*store, EnrollCertificate(1, 1, "device-a", HashHex(1, 'c')));
  CHECK(QueryRaw(OpenRaw(path).get(), "SELECT ca_gen FROM certificates") == "1");
  CHECK(store->CaStatus("2026-09-01T00:00:00Z").value().active_devices == 1);
}

}  // namespace db::testing
