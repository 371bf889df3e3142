// audit_test.cc — SQLite-only: tests the enrollment_events hash chain (db/audit.cc) against
// tampering done behind the Store's back, and the migration of a populated version 1 file
// (db/schema.cc).
#include <doctest/doctest.h>

#include <span>
#include <string>

#include "ca/encoding.h"
#include "db/schema.h"
#include "db/store.h"
#include "tests/db/sqlite_fixture.h"

namespace db::testing {
namespace {

const std::string kZeros(64, '0');

// The encoding from db/audit.h, written out again independently so that a change to it fails here.
std::string Field(const std::string& bytes) { return std::to_string(bytes.size()) + ":" + bytes; }

std::string ExpectedRowHash(sqlite3* raw, int64_t id) {
  std::string where = " FROM enrollment_events WHERE id = " + std::to_string(id);
  std::string encoded = Field("provisiond.enrollment_events.v2") + Field(std::to_string(id));
  // presented_fingerprint: hashed as hex, '' for none (32 bytes or NULL since schema version 13;
  // hex text, '' for none, before).
  for (const char* column : {"time", "peer",
                             "CASE typeof(presented_fingerprint) WHEN 'blob' THEN "
                             "lower(hex(presented_fingerprint)) ELSE ifnull(presented_fingerprint, "
                             "'') END",
                             "presented_subject", "device_id", "endpoint", "outcome", "http_status",
                             "reason"}) {
    encoded += Field(QueryRaw(raw, std::string("SELECT ") + column + where));
  }
  bool serial_null = QueryRaw(raw, "SELECT serial IS NULL" + where) == "1";
  encoded += serial_null ? "-" : Field(QueryRaw(raw, "SELECT serial" + where));
  // prev_hash: the row below's row_hash (not stored since schema version 12), genesis for row 1.
  const std::string prev =
      QueryRaw(raw, "SELECT coalesce((SELECT lower(hex(row_hash)) FROM enrollment_events WHERE "
                    "id < " + std::to_string(id) + " ORDER BY id DESC LIMIT 1), '" +
                        std::string(64, '0') + "')");
  encoded += Field(prev);
  return ca::Sha256Hex(
      std::span(reinterpret_cast<const unsigned char*>(encoded.data()), encoded.size()));
}

AuditReport Verify(Store& store) {
  auto report = store.VerifyAuditChain();
  REQUIRE_MESSAGE(report.has_value(), (report ? "" : report.error().detail));
  return *report;
}

// Five events through every writer: ids 1..5 (RecordEvent; Reserve's "intent" state event and
// Complete's "issued" event).
void WriteFiveEvents(Store& store) {
  REQUIRE(store.RecordEvent(SampleEvent("rejected")).has_value());
  CertificateRecord cert = SampleCertificate(SerialHex(1));
  Issue(store, cert);  // ids 2 (intent) and 3 (issued)
  EventRecord tls = SampleEvent("handshake_failed");
  tls.presented_fingerprint = "";
  tls.http_status = 0;
  REQUIRE(store.RecordEvent(tls).has_value());
  // A refusal writes no event: the bootstrap certificate's one enrollment is spent.
  CertificateRecord refused = SampleCertificate(SerialHex(3), "device-0002");
  auto outcome = ReserveAndComplete(store, refused, SampleEvent("issued", refused.serial_hex),
                                    IssuancePolicy{});
  REQUIRE(outcome.has_value());
  REQUIRE(outcome->decision == Decision::kBootstrapExhausted);
  REQUIRE(store.RecordEvent(SampleEvent("issued")).has_value());  // issued, serial NULL
}

TEST_CASE("every writer extends the chain, with the documented encoding") {
  TempDir dir;
  std::string path = dir.File("store.db");
  auto store = OpenOrDie(path);
  AuditReport empty = Verify(*store);
  CHECK(empty.ok);
  CHECK(empty.rows_checked == 0);
  CHECK(empty.head_hash == kZeros);

  WriteFiveEvents(*store);
  RawDb raw = OpenRaw(path);
  REQUIRE(QueryRaw(
              raw.get(),
              "SELECT group_concat(id, ',') FROM (SELECT id FROM enrollment_events ORDER BY id)") ==
          "1,2,3,4,5");
  for (int id = 1; id <= 5; ++id) {
    CAPTURE(id);
    std::string row_hash =
        QueryRaw(raw.get(), "SELECT lower(hex(row_hash)) FROM enrollment_events WHERE id = " +
                                std::to_string(id));
    CHECK(row_hash == ExpectedRowHash(raw.get(), id));  // linked to row id - 1's row_hash
  }
  AuditReport report = Verify(*store);
  CHECK(report.ok);
  CHECK(report.rows_checked == 5);
  CHECK_FALSE(report.first_bad_id.has_value());
  CHECK(report.problem.empty());
  CHECK(report.head_hash ==
        QueryRaw(raw.get(), "SELECT lower(hex(row_hash)) FROM enrollment_events WHERE id = 5"));
}

TEST_CASE("tampering behind the store's back is found and the row named") {
  TempDir dir;
  std::string path = dir.File("store.db");
  auto store = OpenOrDie(path);
  WriteFiveEvents(*store);
  RawDb raw = OpenRaw(path);  // foreign_keys is off here, as in the sqlite3 CLI

  SUBCASE("an altered reason") {
    ExecRaw(raw.get(), "UPDATE enrollment_events SET reason = 'ok' WHERE id = 3");
    AuditReport report = Verify(*store);
    CHECK_FALSE(report.ok);
    CHECK(report.first_bad_id == std::optional<int64_t>(3));
    CHECK(report.problem == "row 3 was altered (hash mismatch)");
    CHECK(report.rows_checked == 5);
  }
  SUBCASE("a NULL serial turned into '' (NULL and empty encode differently)") {
    ExecRaw(raw.get(), "UPDATE enrollment_events SET serial = '' WHERE id = 5");
    AuditReport report = Verify(*store);
    CHECK(report.first_bad_id == std::optional<int64_t>(5));
  }
  SUBCASE("an altered id") {
    ExecRaw(raw.get(), "UPDATE enrollment_events SET id = 6 WHERE id = 5");
    CHECK(Verify(*store).first_bad_id == std::optional<int64_t>(6));
  }
  SUBCASE("a deleted middle row names the row after it") {
    ExecRaw(raw.get(), "DELETE FROM enrollment_events WHERE id = 3");
    AuditReport report = Verify(*store);
    CHECK_FALSE(report.ok);
    CHECK(report.first_bad_id == std::optional<int64_t>(4));
    CHECK(report.problem == "row 4 follows a deleted row (prev_hash mismatch after id 2)");
    CHECK(report.rows_checked == 4);
  }
  SUBCASE("a deleted first row") {
    ExecRaw(raw.get(), "DELETE FROM enrollment_events WHERE id = 1");
    AuditReport report = Verify(*store);
    CHECK(report.first_bad_id == std::optional<int64_t>(2));
    CHECK(report.problem.find("genesis") != std::string::npos);
  }
  SUBCASE("a deleted row with the rest of the chain recomputed leaves the id gap") {
    ExecRaw(raw.get(), "DELETE FROM enrollment_events WHERE id = 3");
    for (int id = 4; id <= 5; ++id) {  // each linked to the row now below it (row 2, row 4)
      ExecRaw(raw.get(), "UPDATE enrollment_events SET row_hash = X'" +
                             ExpectedRowHash(raw.get(), id) + "' WHERE id = " + std::to_string(id));
    }
    AuditReport report = Verify(*store);
    CHECK(report.first_bad_id == std::optional<int64_t>(4));
    CHECK(report.problem.find("gap in ids after id 2") != std::string::npos);
  }
}

TEST_CASE("limit: deleting the newest row is visible only against a recorded head hash") {
  TempDir dir;
  std::string path = dir.File("store.db");
  auto store = OpenOrDie(path);
  WriteFiveEvents(*store);
  std::string noted_head = Verify(*store).head_hash;
  ExecRaw(OpenRaw(path).get(), "DELETE FROM enrollment_events WHERE id = 5");

  AuditReport report = Verify(*store);
  CHECK(report.ok);  // a valid, shorter chain
  CHECK(report.rows_checked == 4);
  CHECK(report.head_hash != noted_head);  // what the operator's note catches

  // Writing goes on from the stored head.
  REQUIRE(store->RecordEvent(SampleEvent("rejected")).has_value());
  CHECK(Verify(*store).ok);
}

// A file as the version 1 release left it, built by the version 1 migration itself and filled
// with the SQL that release ran (no hash columns).
void MakeVersion1File(const std::string& path) {
  RawDb raw = OpenRaw(path, /*create=*/true);
  REQUIRE(MigrateTo(raw.get(), 1).has_value());
  REQUIRE(QueryRawInt(raw.get(), "PRAGMA user_version") == 1);
  for (int n = 1; n <= 2; ++n) {
    ExecRaw(raw.get(),
            "INSERT INTO certificates (serial, device_id, subject, san, not_before, not_after, "
            "der, fingerprint_sha256, public_key_sha256, auth_cert_issuer, auth_cert_serial, "
            "auth_cert_fingerprint, kind, peer, issued_at) VALUES ('" +
                SerialHex(n) + "', 'device-" + std::to_string(n) +
                "', 'CN=d', 'DNS:d', '2026-08-29T07:45:28Z', '2026-11-27T07:50:28Z', x'3082', '" +
                HashHex(n, 'f') + "', '" + HashHex(n) + "', 'CN=Bootstrap CA', '0a1b', '" +
                HashHex(n, 'c') + "', 'enroll', '127.0.0.1:1', '2026-08-29T07:50:28Z')");
  }
  const char* kEvent =
      "INSERT INTO enrollment_events (time, peer, presented_fingerprint, presented_subject, "
      "device_id, endpoint, outcome, http_status, reason, serial) VALUES ";
  ExecRaw(raw.get(), std::string(kEvent) +
                         "('2026-08-29T07:50:00Z', '127.0.0.1:1', '', '', '', 'tls', "
                         "'handshake_failed', 0, 'no certificate', NULL)");
  ExecRaw(raw.get(), std::string(kEvent) + "('2026-08-29T07:50:28Z', '127.0.0.1:1', '" +
                         HashHex(1, 'c') +
                         "', 'CN=d', 'device-1', 'simpleenroll', 'issued', 200, "
                         "'', '" +
                         SerialHex(1) + "')");
  ExecRaw(raw.get(), std::string(kEvent) + "('2026-08-29T07:51:28Z', '127.0.0.1:1', '" +
                         HashHex(2, 'c') +
                         "', 'CN=d', 'device-2', 'simpleenroll', 'issued', 200, "
                         "'', '" +
                         SerialHex(2) + "')");
}

TEST_CASE("a populated version 1 file migrates in place to a verifiable chain") {
  TempDir dir;
  std::string path = dir.File("store.db");
  MakeVersion1File(path);

  auto store = OpenOrDie(path);
  CHECK(store->EffectiveSettings().value().user_version == kSchemaVersion);
  CHECK(store->CountCertificates().value() == 2);
  auto cert = store->FindBySerial(SerialHex(2)).value();
  REQUIRE(cert.has_value());
  CHECK(cert->device_id == "device-2");
  CHECK(cert->der == std::vector<unsigned char>{0x30, 0x82});
  auto events = store->RecentEvents(10).value();
  REQUIRE(events.size() == 3);
  CHECK(events[0].serial_hex == SerialHex(2));
  CHECK(events[2].outcome == "handshake_failed");
  CHECK(events[2].serial_hex.empty());

  AuditReport report = Verify(*store);
  CHECK(report.ok);
  CHECK(report.rows_checked == 3);
  RawDb raw = OpenRaw(path);
  CHECK(QueryRaw(
            raw.get(),
            "SELECT group_concat(id, ',') FROM (SELECT id FROM enrollment_events ORDER BY id)") ==
        "1,2,3");
  for (int id = 1; id <= 3; ++id) {
    CHECK(QueryRaw(raw.get(), "SELECT lower(hex(row_hash)) FROM enrollment_events WHERE id = " +
                                  std::to_string(id)) == ExpectedRowHash(raw.get(), id));
  }
  // The foreign key survived the table rebuild.
  CHECK(QueryRaw(raw.get(), "SELECT \"table\" FROM pragma_foreign_key_list('enrollment_events')") ==
        "certificates");
  CHECK(QueryRawInt(raw.get(), "SELECT count(*) FROM pragma_foreign_key_check") == 0);

  // The new parts work on the migrated file, and the chain goes on.
  CHECK(store->NextCrlNumber().value() == 1);
  CHECK(store->CertificateStatus(SerialHex(1)).value() == CertStatus::kActive);
  CHECK(store->IsBootstrapDenied(HashHex(1, 'c'), "", "").value() == false);
  REQUIRE(store->RecordEvent(SampleEvent("rejected")).has_value());
  report = Verify(*store);
  CHECK(report.ok);
  CHECK(report.rows_checked == 4);
}

TEST_CASE("a migration that fails leaves the version 1 file as it was") {
  TempDir dir;
  std::string path = dir.File("store.db");
  MakeVersion1File(path);
  // Something in the way of migration 2's last statements, after the events were copied.
  ExecRaw(OpenRaw(path).get(), "CREATE TABLE crl_state (x)");

  auto store = SqliteStore::Open(path);
  REQUIRE_FALSE(store.has_value());
  CHECK(store.error().detail.find("crl_state") != std::string::npos);
  RawDb raw = OpenRaw(path);
  CHECK(QueryRawInt(raw.get(), "PRAGMA user_version") == 1);
  CHECK(QueryRaw(raw.get(),
                 "SELECT group_concat(name, ',') FROM pragma_table_info('enrollment_events')") ==
        "id,time,peer,presented_fingerprint,presented_subject,device_id,endpoint,outcome,"
        "http_status,reason,serial");
  CHECK(QueryRawInt(raw.get(), "SELECT count(*) FROM enrollment_events") == 3);
  CHECK(QueryRawInt(raw.get(),
                    "SELECT count(*) FROM sqlite_schema WHERE name IN ('enrollment_events_v2', "
                    "'bootstrap_denylist')") == 0);
}

}  // namespace
}  // namespace db::testing
