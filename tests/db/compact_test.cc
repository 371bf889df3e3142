// compact_test.cc — SQLite-only: schema version 5 (db/schema_compact.cc). Complete sets an
// intent's TBS aside for its hash; a version 4 file migrates with its rows, their order and the
// audit chain intact; `audit verify` still checks an issued intent's TBS hash against the chain.
#include <doctest/doctest.h>

#include <string>

#include "ca/encoding.h"
#include "db/audit.h"
#include "db/audit_state.h"
#include "db/schema.h"
#include "db/statement.h"
#include "db/store.h"
#include "tests/db/sqlite_fixture.h"

namespace db::testing {
namespace {

constexpr const char* kAt = "2026-09-01T00:00:00Z";

std::string Raw(const std::string& path, const std::string& sql) {
  return QueryRaw(OpenRaw(path).get(), sql);
}

std::string IntentColumn(const std::string& path, const std::string& column, int serial) {
  return Raw(path, "SELECT ifnull(" + column + ", 'NULL') FROM issuance_intents WHERE serial = '" +
                       SerialHex(serial) + "'");
}

void RunOrDie(Statement& stmt) {
  auto ran = stmt.Run();
  REQUIRE_MESSAGE(ran.has_value(), (ran ? "" : ran.error().detail));
}

void Chain(Connection& raw, const EventRecord& event, const std::string& serial = "") {
  auto inserted = InsertChainedEvent(raw, event, serial);
  REQUIRE_MESSAGE(inserted.has_value(), (inserted ? "" : inserted.error().detail));
}

// One intent as the version 4 release wrote it (its TBS kept whatever its status), with its
// state event; an issued one with its certificate (the version 4 insert) and "issued" event.
void AddV4Issuance(Connection& raw, const Intent& intent, bool issued) {
  auto stmt = raw.Prepare(
      "INSERT INTO issuance_intents (serial, device_id, kind, public_key_sha256, "
      "auth_cert_fingerprint, auth_cert_issuer, auth_cert_serial, tbs, not_after, peer, "
      "created_at, status) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 'pending')");
  REQUIRE(stmt.has_value());
  int column = 1;
  for (const std::string* text :
       {&intent.serial_hex, &intent.device_id, &intent.kind, &intent.public_key_sha256,
        &intent.auth_cert_fingerprint, &intent.auth_cert_issuer, &intent.auth_cert_serial}) {
    stmt->BindText(column++, *text);
  }
  stmt->BindBlob(column++, intent.tbs);
  for (const std::string* text : {&intent.not_after, &intent.peer, &intent.created_at}) {
    stmt->BindText(column++, *text);
  }
  RunOrDie(*stmt);
  Chain(raw, IntentStateEvent(intent));
  if (!issued) return;
  const CertificateRecord cert = CertificateFor(intent);
  auto insert = raw.Prepare(
      "INSERT INTO certificates (serial, device_id, subject, san, not_before, not_after, der, "
      "fingerprint_sha256, public_key_sha256, auth_cert_issuer, auth_cert_serial, "
      "auth_cert_fingerprint, kind, peer, issued_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)");
  REQUIRE(insert.has_value());
  column = 1;
  for (const std::string* text : {&cert.serial_hex, &cert.device_id, &cert.subject, &cert.san,
                                  &cert.not_before, &cert.not_after}) {
    insert->BindText(column++, *text);
  }
  insert->BindBlob(column++, cert.der);
  for (const std::string* text :
       {&cert.fingerprint_sha256, &cert.public_key_sha256, &cert.auth_cert_issuer,
        &cert.auth_cert_serial, &cert.auth_cert_fingerprint, &cert.kind, &cert.peer,
        &cert.issued_at}) {
    insert->BindText(column++, *text);
  }
  RunOrDie(*insert);
  Chain(raw, SampleEvent("issued", cert.serial_hex), cert.serial_hex);
  auto mark = raw.Prepare("UPDATE issuance_intents SET status = 'issued' WHERE serial = ?1");
  REQUIRE(mark.has_value());
  mark->BindText(1, intent.serial_hex);
  RunOrDie(*mark);
}

// A version 4 file: intents 1 and 2 issued (certificate 2 then revoked), intent 3 pending.
void MakeVersion4File(const std::string& path) {
  Connection raw(ConnectionPtr(OpenRaw(path, /*create=*/true).release()));
  REQUIRE(MigrateTo(raw.get(), 4).has_value());
  ExecRaw(raw.get(), "PRAGMA foreign_keys = ON; BEGIN IMMEDIATE");
  for (int n = 1; n <= 3; ++n) {
    AddV4Issuance(raw, EnrollIntent(n, n, "device-" + std::to_string(n), HashHex(n, 'c')), n < 3);
  }
  ExecRaw(raw.get(), "UPDATE certificates SET revoked_at = '" + std::string(kAt) +
                         "', revocation_reason = 1 WHERE serial = '" + SerialHex(2) + "'");
  Chain(raw, RevokedStateEvent(SerialHex(2), "device-2", kAt, 1));
  ExecRaw(raw.get(), "COMMIT");
  REQUIRE(QueryRawInt(raw.get(), "PRAGMA user_version") == 4);
}

std::string TbsHash(int n) {
  return ca::Sha256Hex(EnrollIntent(n, n, "device-" + std::to_string(n), HashHex(n, 'c')).tbs);
}

TEST_CASE("Complete keeps an issued intent's TBS hash, not its TBS; a pending intent keeps it") {
  TempDir dir;
  const std::string path = dir.File("store.db");
  auto store = OpenOrDie(path);
  Intent issued = EnrollIntent(1, 1, "device-1", HashHex(1, 'c'));
  Intent pending = EnrollIntent(2, 2, "device-2", HashHex(2, 'c'));
  REQUIRE(ReserveOrDie(*store, issued).decision == Decision::kReserved);
  REQUIRE(ReserveOrDie(*store, pending).decision == Decision::kReserved);
  CompleteOrDie(*store, issued);
  CHECK(IntentColumn(path, "tbs", 1) == "NULL");
  CHECK(IntentColumn(path, "tbs_sha256", 1) == ca::Sha256Hex(issued.tbs));
  CHECK(IntentColumn(path, "hex(tbs)", 2) ==
        "3082010002"
        "00");
  CHECK(IntentColumn(path, "tbs_sha256", 2) == "NULL");
  CHECK(store->PendingIntents().value().front().tbs == pending.tbs);
  auto report = store->VerifyAuditChain().value();
  CHECK_MESSAGE(report.ok, report.problem);
  // The schema holds the rule: a pending intent cannot lose its TBS.
  auto raw = OpenRaw(path);
  CHECK(sqlite3_exec(raw.get(), "UPDATE issuance_intents SET tbs = NULL", nullptr, nullptr,
                     nullptr) == SQLITE_CONSTRAINT);
}

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

  auto store = OpenOrDie(path);
  CHECK(store->EffectiveSettings().value().user_version == kSchemaVersion);
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
  CHECK(store->PendingIntents().value().size() == 1);
  CHECK(store->CertificateStatus(SerialHex(2)).value() == CertStatus::kRevoked);
  auto report = store->VerifyAuditChain().value();
  CHECK_MESSAGE(report.ok, report.problem);
  CHECK(report.rows_checked == 6);  // 3 intents, 2 issued, 1 revocation: nothing added
  // Only the time index is left on enrollment_events by version 5 (the manifests' migration,
  // db/schema_manifest.cc, then adds a partial index on the fingerprint of authenticated
  // attempts); the intent lookups index pending rows.
  CHECK(Raw(path,
            "SELECT group_concat(name) FROM sqlite_schema WHERE type = 'index' AND "
            "tbl_name = 'enrollment_events' AND name <> 'enrollment_events_presented_fingerprint'") ==
        "enrollment_events_time");
  CHECK(QueryRawInt(OpenRaw(path).get(),
                    "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND tbl_name = "
                    "'issuance_intents' AND sql LIKE '%WHERE status = ''pending''%'") == 4);
  // The migrated store issues and verifies as a new one does.
  CompleteOrDie(*store, EnrollIntent(3, 3, "device-3", HashHex(3, 'c')));
  CHECK(IntentColumn(path, "tbs_sha256", 3) == TbsHash(3));
  report = store->VerifyAuditChain().value();
  CHECK_MESSAGE(report.ok, report.problem);
  CHECK(QueryRawInt(OpenRaw(path).get(), "SELECT count(*) FROM pragma_foreign_key_check") == 0);
}

TEST_CASE("audit verify names an issued intent whose TBS hash was edited with sqlite3") {
  TempDir dir;
  const std::string path = dir.File("store.db");
  MakeVersion4File(path);
  auto store = OpenOrDie(path);
  ExecRaw(OpenRaw(path).get(), "UPDATE issuance_intents SET tbs_sha256 = '" + HashHex(9) +
                                   "' WHERE serial = '" + SerialHex(1) + "'");
  AuditReport report = store->VerifyAuditChain().value();
  CHECK_FALSE(report.ok);
  CHECK_MESSAGE(report.problem.find("intent " + SerialHex(1)) != std::string::npos, report.problem);
}

}  // namespace
}  // namespace db::testing
