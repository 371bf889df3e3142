// migration_test.cc — SQLite-only: files written by older releases migrate in place to the current
// schema: their rows keep their meaning, the audit chain keeps its prefix and records the state
// already there (version 4), and serials of other CAs become canonical (version 4).
#include <doctest/doctest.h>

#include <string>

#include "db/audit.h"
#include "db/schema.h"
#include "db/statement.h"
#include "db/store.h"
#include "tests/db/sqlite_fixture.h"

namespace db::testing {
namespace {

const std::string kBootstrap = HashHex(1, 'c');
const std::string kOtherBootstrap = HashHex(2, 'c');

int64_t Count(const std::string& path, const std::string& sql) {
  return QueryRawInt(OpenRaw(path).get(), sql);
}

// The certificate insert of releases before version 4 (no profile column).
void InsertCertificateV1(Connection& raw, const CertificateRecord& cert) {
  auto stmt = raw.Prepare(
      "INSERT INTO certificates (serial, device_id, subject, san, not_before, not_after, der, "
      "fingerprint_sha256, public_key_sha256, auth_cert_issuer, auth_cert_serial, "
      "auth_cert_fingerprint, kind, peer, issued_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)");
  REQUIRE(stmt.has_value());
  int column = 1;
  for (const std::string* text :
       {&cert.serial_hex, &cert.device_id, &cert.subject, &cert.san, &cert.not_before,
        &cert.not_after}) {
    stmt->BindText(column++, *text);
  }
  stmt->BindBlob(column++, cert.der);
  for (const std::string* text :
       {&cert.fingerprint_sha256, &cert.public_key_sha256, &cert.auth_cert_issuer,
        &cert.auth_cert_serial, &cert.auth_cert_fingerprint, &cert.kind, &cert.peer,
        &cert.issued_at}) {
    stmt->BindText(column++, *text);
  }
  auto ran = stmt->Run();
  REQUIRE_MESSAGE(ran.has_value(), (ran ? "" : ran.error().detail));
}

// A file as the version 2 release left it: built by migrations 1 and 2 and filled as that release
// did (its certificate insert, the chained event insert). Certificate 3 was enrolled with a
// bootstrap certificate whose serial starts with 0x8f, stored then as its DER bytes (sign byte
// 00), and the denylist holds such a serial too.
void MakeVersion2File(const std::string& path) {
  Connection raw(ConnectionPtr(OpenRaw(path, /*create=*/true).release()));
  REQUIRE(MigrateTo(raw.get(), 2).has_value());
  ExecRaw(raw.get(), "PRAGMA foreign_keys = ON; BEGIN IMMEDIATE");
  for (int n = 1; n <= 3; ++n) {
    CertificateRecord cert = EnrollCertificate(n, n, "device-" + std::to_string(n), kBootstrap);
    if (n == 3) cert.auth_cert_serial = "008f0001";
    InsertCertificateV1(raw, cert);
    auto inserted = InsertChainedEvent(raw, SampleEvent("issued", cert.serial_hex),
                                       cert.serial_hex, HashForm::kHex);
    REQUIRE_MESSAGE(inserted.has_value(), (inserted ? "" : inserted.error().detail));
  }
  std::string revoke =
      "UPDATE certificates SET revoked_at = '2026-09-01T00:00:00Z', revocation_reason = 1 "
      "WHERE serial = '" +
      SerialHex(2) + "';";
  std::string deny = "INSERT INTO bootstrap_denylist (fingerprint, reason, added_at) VALUES ('" +
                     HashHex(7, 'c') + "', 'cloned', '2026-09-01T00:00:00Z');";
  std::string deny_serial =
      "INSERT INTO bootstrap_denylist (issuer, serial, reason, added_at) VALUES "
      "('CN=Bootstrap CA', '008f00ab', 'stolen', '2026-09-02T00:00:00Z');";
  ExecRaw(raw.get(), revoke + deny + deny_serial + "UPDATE crl_state SET number = 4; COMMIT");
  REQUIRE(QueryRawInt(raw.get(), "PRAGMA user_version") == 2);
}

TEST_CASE("serve's open refuses an older file untouched and names migrate; a new file is made") {
  TempDir dir;
  std::string path = dir.File("store.db");
  MakeVersion2File(path);
  auto refused = SqliteStore::Open(path, SqliteStore::Upgrade::kRefuse);
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().code == Code::kSchema);
  CHECK(refused.error().detail ==
        "the database is at schema version 2, this program needs " + std::to_string(kSchemaVersion) +
            "; run provisiond migrate first");
  CHECK(QueryRawInt(OpenRaw(path).get(), "PRAGMA user_version") == 2);
  // A file that did not exist yet is created at the current version either way.
  auto fresh = SqliteStore::Open(dir.File("new.db"), SqliteStore::Upgrade::kRefuse);
  REQUIRE(fresh.has_value());
  CHECK((*fresh)->EffectiveSettings().value().user_version == kSchemaVersion);
}

TEST_CASE("a populated version 2 file migrates in place to the current version") {
  TempDir dir;
  std::string path = dir.File("store.db");
  MakeVersion2File(path);
  std::string head_before =
      QueryRaw(OpenRaw(path).get(), "SELECT row_hash FROM enrollment_events ORDER BY id DESC");

  auto store = OpenOrDie(path);
  CHECK(store->EffectiveSettings().value().user_version == kSchemaVersion);
  CHECK(store->CountCertificates().value() == 3);
  CHECK(store->CertificateStatus(SerialHex(2)).value() == CertStatus::kRevoked);
  CHECK(store->IsBootstrapDenied(HashHex(7, 'c'), "", "").value());
  CHECK(store->PendingIntents().value().empty());
  auto report = store->VerifyAuditChain().value();
  CHECK_MESSAGE(report.ok, report.problem);
  // Migration 4 appended the state already there: one revocation, two denylist rows.
  CHECK(report.rows_checked == 6);
  CHECK(QueryRaw(OpenRaw(path).get(),  // 32 bytes since version 11
                 "SELECT lower(hex(row_hash)) FROM enrollment_events WHERE id = 3") == head_before);
  CHECK(Count(path, "SELECT count(*) FROM enrollment_events WHERE endpoint = 'state'") == 3);
  // Serials of other CAs are canonical now: no DER sign byte.
  CHECK(store->IsBootstrapDenied("", "CN=Bootstrap CA", "8f00ab").value());
  CHECK(QueryRaw(OpenRaw(path).get(), "SELECT serial FROM bootstrap_denylist WHERE id = 2") ==
        "8f00ab");
  CHECK(store->FindBySerial(SerialHex(3)).value()->auth_cert_serial == "8f0001");
  CHECK(store->FindBySerial(SerialHex(1)).value()->auth_cert_serial == "0a1b");
  CHECK(store->FindBySerial(SerialHex(1)).value()->profile.empty());
  CHECK(store->NextCrlNumber().value() == 5);

  // The old rows take part in the new checks, and both phases work on the migrated file.
  CHECK(ReserveOrDie(*store, EnrollIntent(4, 1, "device-x", kOtherBootstrap)).decision ==
        Decision::kKeyReuse);
  CHECK(ReserveOrDie(*store, EnrollIntent(4, 1, "device-1", kBootstrap)).decision ==
        Decision::kAlreadyIssued);
  Intent fresh = EnrollIntent(5, 5, "device-5", kOtherBootstrap);
  REQUIRE(ReserveOrDie(*store, fresh).decision == Decision::kReserved);
  CompleteOrDie(*store, fresh);
  CHECK(store->CountCertificates().value() == 4);
  CHECK(store->VerifyAuditChain().value().ok);
  CHECK(QueryRawInt(OpenRaw(path).get(), "SELECT count(*) FROM pragma_foreign_key_check") == 0);
}

TEST_CASE("a migration 3 that fails leaves the version 2 file as it was") {
  TempDir dir;
  std::string path = dir.File("store.db");
  MakeVersion2File(path);
  ExecRaw(OpenRaw(path).get(), "CREATE INDEX issuance_intents_device_id ON certificates (san)");

  auto store = SqliteStore::Open(path);
  REQUIRE_FALSE(store.has_value());
  CHECK(store.error().detail.find("issuance_intents_device_id") != std::string::npos);
  RawDb raw = OpenRaw(path);
  CHECK(QueryRawInt(raw.get(), "PRAGMA user_version") == 2);
  CHECK(QueryRawInt(raw.get(),
                    "SELECT count(*) FROM sqlite_schema WHERE name = 'issuance_intents'") == 0);
  CHECK(QueryRawInt(raw.get(), "SELECT count(*) FROM certificates") == 3);
}

}  // namespace
}  // namespace db::testing
