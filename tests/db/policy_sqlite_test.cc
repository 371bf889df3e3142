// policy_sqlite_test.cc — SQLite-only policy cases: a state the interface cannot produce (two
// same-key enroll certificates, as a file from before that check could hold), written by hand.
#include <doctest/doctest.h>

#include <string>

#include "tests/db/sqlite_fixture.h"

namespace db::testing {
namespace {

const std::string kBootstrap = HashHex(1, 'c');

TEST_CASE("kAlreadyIssued answers the newest of several same-key rows (SQLite file by hand)") {
  TempDir dir;
  std::string path = dir.File("store.db");
  auto store = OpenOrDie(path);
  CertificateRecord first = EnrollCertificate(1, 1, "device-a", kBootstrap);
  Issue(*store, first);
  // Reserve never lets a second same-key row in (it answers kAlreadyIssued), so the second row
  // is copied from the first by hand.
  CertificateRecord second = EnrollCertificate(3, 1, "device-a", kBootstrap);
  RawDb raw = OpenRaw(path);
  ExecRaw(raw.get(), "CREATE TEMP TABLE copy AS SELECT * FROM certificates");  // first's row
  ExecRaw(raw.get(), "UPDATE copy SET id = id + 1, serial = '" + second.serial_hex +
                         "', fingerprint_sha256 = X'" + HashHex(3, 'f') + "'");
  ExecRaw(raw.get(), "INSERT INTO certificates SELECT * FROM copy");

  CertificateRecord retry = EnrollCertificate(2, 1, "device-a", kBootstrap);
  auto outcome = ReserveAndComplete(*store, retry, SampleEvent("issued", retry.serial_hex),
                                    IssuancePolicy{.max_per_bootstrap = 5});
  REQUIRE(outcome.has_value());
  CHECK(outcome->decision == Decision::kAlreadyIssued);
  REQUIRE(outcome->existing.has_value());
  CHECK(outcome->existing->serial_hex == second.serial_hex);
  CHECK(RowCount(path, "issuance_intents WHERE serial = '" + retry.serial_hex + "'") == 0);
  CHECK(RowCount(path, "certificates") == 2);
}

}  // namespace
}  // namespace db::testing
