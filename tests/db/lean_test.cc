// lean_test.cc — SQLite-only: schema version 6 (db/schema_lean.cc). Complete leaves no intent row,
// its certificate keeps the TBS hash; a version 5 file migrates with its rows, their order and the
// audit chain intact, and `audit verify` still checks every intent the chain recorded.
#include <doctest/doctest.h>

#include <string>

#include "db/schema_lean.h"
#include "tests/db/v4_store_fixture.h"

namespace db::testing {
namespace {

std::string CertificateTbsHash(const std::string& path, int serial) {
  // As hex whichever the version stores (text before version 13, 32 bytes since).
  return Raw(path, "SELECT ifnull(CASE typeof(tbs_sha256) WHEN 'blob' THEN lower(hex(tbs_sha256)) "
                   "ELSE tbs_sha256 END, 'NULL') FROM certificates WHERE serial = '" +
                       SerialHex(serial) + "'");
}

// As hex whichever the version stores (text before version 11, 32 bytes since).
std::string ChainHashes(const std::string& path) {
  return Raw(path,
             "SELECT group_concat(CASE typeof(row_hash) WHEN 'blob' THEN lower(hex(row_hash)) "
             "ELSE row_hash END) FROM (SELECT row_hash FROM enrollment_events ORDER BY id)");
}

std::string CertificateRows(const std::string& path) {
  return Raw(path,
             "SELECT group_concat(id || serial || hex(der) || device_id || ifnull(revoked_at, '')) "
             "FROM (SELECT * FROM certificates ORDER BY id)");
}

// A version 5 file (the version this migration starts from): intents 1 and 2 issued
// (certificate 2 revoked), intent 3 pending.
void MakeVersion5File(const std::string& path) {
  MakeVersion4File(path);
  REQUIRE(MigrateTo(OpenRaw(path).get(), kLeanFromVersion).has_value());
  REQUIRE(QueryRawInt(OpenRaw(path).get(), "PRAGMA user_version") == kLeanFromVersion);
}

TEST_CASE("Complete leaves no intent row: the certificate keeps the TBS hash; pending keeps TBS") {
  TempDir dir;
  const std::string path = dir.File("store.db");
  auto store = OpenOrDie(path);
  Intent issued = EnrollIntent(1, 1, "device-1", HashHex(1, 'c'));
  Intent pending = EnrollIntent(2, 2, "device-2", HashHex(2, 'c'));
  REQUIRE(ReserveOrDie(*store, issued).decision == Decision::kReserved);
  REQUIRE(ReserveOrDie(*store, pending).decision == Decision::kReserved);
  CompleteOrDie(*store, issued);
  CHECK(Raw(path, "SELECT group_concat(serial) FROM issuance_intents") == SerialHex(2));
  CHECK(CertificateTbsHash(path, 1) == ca::Sha256Hex(issued.tbs));
  CHECK(IntentColumn(path, "hex(tbs)", 2) == "308201000200");
  CHECK(store->PendingIntents().value().front().tbs == pending.tbs);
  // Reserve records the intent's state compactly: its serial and the hash of the full text.
  CHECK(Raw(path,
            "SELECT count(*) FROM enrollment_events WHERE outcome = 'intent' AND reason LIKE "
            "'serial=\"%\" state_sha256=\"%\"'") == "2");
  auto report = store->VerifyAuditChain().value();
  CHECK_MESSAGE(report.ok, report.problem);
  // The serial is issued once: Complete again names it as before, and writes nothing.
  auto again = store->Complete(CertificateFor(issued), SampleEvent("issued", issued.serial_hex));
  REQUIRE_FALSE(again.has_value());
  CHECK(again.error().detail.find("already issued") != std::string::npos);
}

TEST_CASE("a version 5 file migrates to version 6 with its rows, their order and its chain") {
  TempDir dir;
  const std::string path = dir.File("store.db");
  MakeVersion5File(path);
  const std::string chain = ChainHashes(path);
  const std::string certificates = CertificateRows(path);

  auto store = OpenOrDie(path);
  CHECK(store->EffectiveSettings().value().user_version == kSchemaVersion);
  CHECK(ChainHashes(path) == chain);
  CHECK(CertificateRows(path) == certificates);
  CHECK(Raw(path, "SELECT group_concat(serial) FROM issuance_intents") == SerialHex(3));
  for (int n : {1, 2}) CHECK(CertificateTbsHash(path, n) == TbsHash(n));
  CHECK(store->PendingIntents().value().size() == 1);
  CHECK(store->CertificateStatus(SerialHex(2)).value() == CertStatus::kRevoked);
  auto report = store->VerifyAuditChain().value();
  CHECK_MESSAGE(report.ok, report.problem);
  CHECK(report.rows_checked == 6);  // 3 intents, 2 issued, 1 revocation: nothing added
  CHECK(Raw(path, "SELECT sql FROM sqlite_schema WHERE name = 'enrollment_events_time'")
            .ends_with("WHERE outcome <> 'issued'"));
  // The migrated store issues and verifies as a new one does, with both forms of intent event.
  CompleteOrDie(*store, EnrollIntent(3, 3, "device-3", HashHex(3, 'c')));
  CHECK(CertificateTbsHash(path, 3) == TbsHash(3));
  CHECK(Raw(path, "SELECT count(*) FROM issuance_intents") == "0");
  Issue(*store, EnrollCertificate(4, 4, "device-4", HashHex(4, 'c')));
  report = store->VerifyAuditChain().value();
  CHECK_MESSAGE(report.ok, report.problem);
  CHECK(QueryRawInt(OpenRaw(path).get(), "SELECT count(*) FROM pragma_foreign_key_check") == 0);
}

TEST_CASE("audit verify after the migration names a certificate or intent edited with sqlite3") {
  TempDir dir;
  const std::string path = dir.File("store.db");
  MakeVersion5File(path);
  auto store = OpenOrDie(path);
  REQUIRE(store->VerifyAuditChain().value().ok);
  auto broken = [&](const std::string& sql, const std::string& named) {
    ExecRaw(OpenRaw(path).get(), sql);
    AuditReport report = store->VerifyAuditChain().value();
    CHECK_FALSE(report.ok);
    CHECK_MESSAGE(report.problem.find(named) != std::string::npos, report.problem);
  };
  const std::string one = "' WHERE serial = '" + SerialHex(1) + "'";
  SUBCASE("a migrated certificate's TBS hash") {
    broken("UPDATE certificates SET tbs_sha256 = X'" + HashHex(9) + one, "certificate " + SerialHex(1));
  }
  SUBCASE("a migrated certificate's device id") {
    broken("UPDATE certificates SET device_id = 'device-x" + one, "certificate " + SerialHex(1));
  }
  SUBCASE("a certificate made to look older than intents") {
    broken("UPDATE certificates SET tbs_sha256 = NULL WHERE serial = '" + SerialHex(1) + "'",
           "matches no row");
  }
  SUBCASE("an issued serial given a pending intent again") {
    broken("INSERT INTO issuance_intents (serial, device_id, kind, public_key_sha256, "
           "auth_cert_fingerprint, auth_cert_issuer, auth_cert_serial, tbs, not_after, peer, "
           "created_at, status) SELECT serial, device_id, kind, public_key_sha256, "
           "auth_cert_fingerprint, auth_cert_issuer, auth_cert_serial, x'3000', not_after, peer, "
           "issued_at, 'pending' FROM certificates WHERE serial = '" + SerialHex(1) + "'",
           SerialHex(1));
  }
}

}  // namespace
}  // namespace db::testing
