// audit_state_test.cc — state changes in the audit chain (issue #12 finding 5): revocations,
// denylist rows, blocks and intents are recorded as chained state events, and VerifyAuditChain
// reports a table edited behind the Store's back (sqlite3 CLI) naming the row. The first case runs
// per backend (backend.h); the tampering ones edit the SQLite file and are SQLite-only.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "db/store.h"
#include "tests/db/admin_writes.h"
#include "tests/db/backend.h"
#include "tests/db/sqlite_fixture.h"

namespace db::testing {
namespace {

const std::string kBootstrap = HashHex(1, 'c');
constexpr const char* kAt = "2026-09-01T00:00:00Z";

// A store holding one of every state: a revoked certificate, a revoked pending intent, a pending
// intent, denylist rows (by fingerprint; by issuer + serial), a lifted block and an active one.
// Tamper() edits the SQLite file (SqliteBackend keeps it as dir/store.db).
template <typename Backend = SqliteBackend>
struct Populated {
  TempDir dir;
  std::unique_ptr<Store> store = Backend::Open(dir);
  CertificateRecord revoked = EnrollCertificate(1, 1, "device-a", kBootstrap);
  Intent revoked_intent = EnrollIntent(2, 2, "device-b", HashHex(2, 'c'));
  Intent pending = EnrollIntent(3, 3, "device-c", HashHex(3, 'c'));

  Populated() {
    Issue(*store, revoked);
    REQUIRE(store->Reserve(revoked_intent, {}).value().decision == Decision::kReserved);
    REQUIRE(store->Reserve(pending, {}).value().decision == Decision::kReserved);
    REQUIRE(store->RevokeSerial(revoked.serial_hex, 1, kAt).value() == 1);
    REQUIRE(store->RevokeDevice("device-b", 4, kAt).value() == 1);
    REQUIRE(
        DenyAsAdmin(*store, {.fingerprint = HashHex(7, 'c'), .reason = "cloned", .added_at = kAt})
            .has_value());
    REQUIRE(DenyAsAdmin(*store, {.issuer = "CN=Acme \"Root\", O=\\x",
                                 .serial_hex = "8f00",
                                 .reason = "stolen",
                                 .added_at = kAt})
                .has_value());
    REQUIRE(BlockAsAdmin(*store, "device-d", "lost", kAt).value());
    REQUIRE(UnblockAsAdmin(*store, "device-d", "found", "2026-09-02T00:00:00Z").value());
    REQUIRE(BlockAsAdmin(*store, "device-e", "stolen", kAt).value());
  }

  void Tamper(const std::string& sql) { ExecRaw(OpenRaw(dir.File("store.db")).get(), sql); }

  // The report after tampering: not ok, and the problem names `row`.
  AuditReport Broken(const std::string& row) {
    AuditReport report = store->VerifyAuditChain().value();
    CHECK_FALSE(report.ok);
    CHECK_MESSAGE(report.problem.find(row) != std::string::npos, report.problem);
    return report;
  }
};

TEST_CASE_TEMPLATE("every state change is a chained state event, and an untouched store verifies",
                   Backend, PROVISIOND_DB_BACKENDS) {
  Populated<Backend> p;
  AuditReport report = p.store->VerifyAuditChain().value();
  CHECK_MESSAGE(report.ok, report.problem);
  // 1 issuance (its intent and its issued event); 2 more intents, 2 revocations, 2 denylist rows,
  // 2 blocks and 1 lift; and the operator's admin event of each of those 5 (the *Recorded writes).
  CHECK(report.rows_checked == 16);
  const std::vector<EventRecord> events = p.store->RecentEvents(100).value();  // newest first
  REQUIRE(events.size() == 16);
  std::string first_revoked;
  int lists = 0;
  for (const EventRecord& event : events) {
    if (event.endpoint != "state") continue;
    if (event.outcome == "revoked") first_revoked = event.reason;
    if (event.outcome == "denylisted" || event.outcome == "blocked" ||
        event.outcome == "unblocked") {
      ++lists;
    }
  }
  CHECK(first_revoked ==
        "serial=\"" + p.revoked.serial_hex + "\" revoked_at=\"" + kAt + "\" reason=\"1\"");
  CHECK(lists == 5);
}

TEST_CASE("audit verify names a revocation cleared with sqlite3") {
  Populated<> p;
  SUBCASE("a certificate") {
    p.Tamper("UPDATE certificates SET revoked_at = NULL, revocation_reason = NULL");
    AuditReport report = p.Broken(p.revoked.serial_hex);
    CHECK(report.first_bad_id.has_value());  // the revocation event that no longer matches
  }
  SUBCASE("a pending intent") {
    p.Tamper(
        "UPDATE issuance_intents SET revoked_at = NULL, revocation_reason = NULL "
        "WHERE serial = '" +
        p.revoked_intent.serial_hex + "'");
    p.Broken(p.revoked_intent.serial_hex);
  }
  SUBCASE("a revocation's time moved") {
    p.Tamper("UPDATE certificates SET revoked_at = '2030-01-01T00:00:00Z'");
    p.Broken("certificate " + p.revoked.serial_hex);
  }
  SUBCASE("a revocation added by hand") {
    p.Tamper("UPDATE issuance_intents SET revoked_at = '" + std::string(kAt) +
             "', revocation_reason = 1 WHERE serial = '" + p.pending.serial_hex + "'");
    p.Broken("intent " + p.pending.serial_hex);
  }
}

TEST_CASE("audit verify names a denylist row deleted, edited or inserted with sqlite3") {
  Populated<> p;
  SUBCASE("deleted") {
    p.Tamper("DELETE FROM bootstrap_denylist WHERE id = 2");
    p.Broken("id=\"2\"");
  }
  SUBCASE("edited") {
    p.Tamper("UPDATE bootstrap_denylist SET serial = '8f01' WHERE id = 2");
    p.Broken("denylist row 2");
  }
  SUBCASE("inserted") {
    p.Tamper("INSERT INTO bootstrap_denylist (fingerprint, reason, added_at) VALUES ('" +
             HashHex(8, 'c') + "', 'x', '" + kAt + "')");
    p.Broken("denylist row 3");
  }
}

TEST_CASE("audit verify names an intent whose TBS was edited with sqlite3") {
  Populated<> p;
  p.Tamper("UPDATE issuance_intents SET tbs = x'3082010000' WHERE serial = '" +
           p.pending.serial_hex + "'");
  p.Broken("intent " + p.pending.serial_hex);
}

TEST_CASE("audit verify names a block deleted or un-lifted with sqlite3") {
  Populated<> p;
  SUBCASE("an active block deleted") {
    p.Tamper("DELETE FROM device_blocks WHERE device_id = 'device-e'");
    p.Broken("device-e");
  }
  SUBCASE("a lift undone") {
    p.Tamper(
        "UPDATE device_blocks SET lifted_at = NULL, lift_reason = NULL "
        "WHERE device_id = 'device-d'");
    p.Broken("device-d");
  }
}

}  // namespace
}  // namespace db::testing

namespace db::testing {
namespace {

// Review of issue #12: a certificate's profile decides where it may renew (finding 8), so an
// edited profile, on the certificate or on its intent, must show as well as an edited TBS.
TEST_CASE("audit verify names a certificate or intent whose profile, device or status was edited") {
  Populated<> p;
  Intent gw = EnrollIntent(8, 8, "device-g", HashHex(8, 'c'));
  gw.profile = "gw";
  REQUIRE(p.store->Reserve(gw, {}).value().decision == Decision::kReserved);
  CertificateRecord cert = CertificateFor(gw);
  cert.profile = gw.profile;
  REQUIRE(p.store->Complete(cert, SampleEvent("issued", cert.serial_hex)).has_value());
  const AuditReport clean = p.store->VerifyAuditChain().value();
  REQUIRE_MESSAGE(clean.ok, clean.problem);

  SUBCASE("the certificate's profile") {
    p.Tamper("UPDATE certificates SET profile = '' WHERE serial = '" + cert.serial_hex + "'");
    p.Broken("certificate " + cert.serial_hex);
  }
  SUBCASE("a certificate without an intent given a profile") {
    p.Tamper("UPDATE certificates SET profile = 'gw' WHERE serial = '" + p.revoked.serial_hex +
             "'");
    p.Broken("certificate " + p.revoked.serial_hex);
  }
  SUBCASE("the intent's profile") {
    p.Tamper("UPDATE issuance_intents SET profile = 'other' WHERE serial = '" +
             p.pending.serial_hex + "'");
    p.Broken("intent " + p.pending.serial_hex);
  }
  SUBCASE("the certificate's device id") {
    p.Tamper("UPDATE certificates SET device_id = 'device-x' WHERE serial = '" + cert.serial_hex +
             "'");
    p.Broken("certificate " + cert.serial_hex);
  }
  SUBCASE("an issued intent brought back as pending") {
    // Its row is gone since Complete (schema version 6): put back, with its very TBS
    // (EnrollIntent's), it matches its chained event, and the certificate is left without one.
    p.Tamper("INSERT INTO issuance_intents (serial, device_id, kind, public_key_sha256, "
             "auth_cert_fingerprint, auth_cert_issuer, auth_cert_serial, tbs, not_after, peer, "
             "created_at, status, profile) SELECT serial, device_id, kind, public_key_sha256, "
             "auth_cert_fingerprint, auth_cert_issuer, auth_cert_serial, x'308201000800', "
             "not_after, peer, issued_at, 'pending', profile FROM certificates WHERE serial = '" +
             cert.serial_hex + "'");
    p.Broken("certificate " + cert.serial_hex);
  }
}

}  // namespace
}  // namespace db::testing
