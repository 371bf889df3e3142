// intents_test.cc — tests the two-phase issuance (Store::Reserve / Complete:
// db/sql_issuance.cc): each Reserve decision, Complete, revocation of pending intents and the CRL,
// completed issuances counting as pending ones do. Per backend (backend.h), but the last case
// (a SQLite trigger).
#include <doctest/doctest.h>

#include <span>
#include <string>
#include <vector>

#include "ca/encoding.h"
#include "db/store.h"
#include "tests/db/backend.h"
#include "tests/db/sqlite_fixture.h"

namespace db::testing {
namespace {

const std::string kBootstrap = HashHex(1, 'c');
const std::string kOtherBootstrap = HashHex(2, 'c');
constexpr const char* kRevokedAt = "2026-09-01T00:00:00Z";

std::vector<std::string> PendingSerials(Store& store) {
  auto pending = store.PendingIntents();
  REQUIRE_MESSAGE(pending.has_value(), (pending ? "" : pending.error().detail));
  std::vector<std::string> serials;
  for (const Intent& intent : *pending) serials.push_back(intent.serial_hex);
  return serials;
}

TEST_CASE_TEMPLATE("kReserved stores a pending intent, byte-exact, and writes nothing else",
                   Backend, PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = Backend::Open(dir);
  Intent intent = EnrollIntent(1, 1, "device-a", kBootstrap);
  intent.tbs.assign({0x00, 0x27, 0x22, 0xff, 0x00});
  intent.status = "issued";  // ignored: Reserve always stores "pending"
  IssueOutcome outcome = ReserveOrDie(*store, intent);
  CHECK(outcome.decision == Decision::kReserved);
  CHECK_FALSE(outcome.existing.has_value());
  CHECK_FALSE(outcome.intent.has_value());

  auto pending = store->PendingIntents().value();
  REQUIRE(pending.size() == 1);
  const Intent& got = pending.front();
  CHECK(got.serial_hex == intent.serial_hex);
  CHECK(got.device_id == intent.device_id);
  CHECK(got.kind == intent.kind);
  CHECK(got.public_key_sha256 == intent.public_key_sha256);
  CHECK(got.auth_cert_fingerprint == intent.auth_cert_fingerprint);
  CHECK(got.auth_cert_issuer == intent.auth_cert_issuer);
  CHECK(got.auth_cert_serial == intent.auth_cert_serial);
  CHECK(got.tbs == intent.tbs);
  CHECK(got.not_after == intent.not_after);
  CHECK(got.peer == intent.peer);
  CHECK(got.created_at == intent.created_at);
  CHECK(got.status == "pending");
  CHECK_FALSE(got.revoked_at.has_value());
  CHECK(store->CountCertificates().value() == 0);
  CHECK(IssuanceEventCount(*store) == 0);
  // ... but the intent is in the audit chain (db/audit_state.h): its serial, and the SHA-256 of the
  // text that names its device, kind, key, authenticating certificate, profile and tbs's SHA-256.
  auto events = store->RecentEvents(10).value();
  REQUIRE(events.size() == 1);
  CHECK(events[0].endpoint == "state");
  CHECK(events[0].outcome == "intent");
  CHECK(events[0].device_id == "device-a");
  const std::string full = "serial=\"" + intent.serial_hex +
                           "\" device_id=\"device-a\" kind=\"enroll\" public_key_sha256=\"" +
                           intent.public_key_sha256 + "\" auth_cert_fingerprint=\"" +
                           intent.auth_cert_fingerprint + "\" profile=\"\" tbs_sha256=\"" +
                           ca::Sha256Hex(intent.tbs) + "\"";
  CHECK(events[0].reason ==
        "serial=\"" + intent.serial_hex + "\" state_sha256=\"" +
            ca::Sha256Hex(std::span(reinterpret_cast<const unsigned char*>(full.data()),
                                    full.size())) +
            "\"");
  // Not a certificate yet: unknown at the TLS handshake.
  CHECK(store->CertificateStatus(intent.serial_hex).value() == CertStatus::kUnknown);
}

TEST_CASE_TEMPLATE("kResume: a same-key enroll retry gets the pending intent back, to sign its tbs",
                   Backend, PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = Backend::Open(dir);
  Intent first = EnrollIntent(1, 1, "device-a", kBootstrap);
  REQUIRE(ReserveOrDie(*store, first).decision == Decision::kReserved);

  Intent retry = EnrollIntent(2, 1, "device-a", kBootstrap);  // a new serial, the same key
  IssueOutcome outcome = ReserveOrDie(*store, retry, /*max_per_bootstrap=*/5);
  CHECK(outcome.decision == Decision::kResume);
  REQUIRE(outcome.intent.has_value());
  CHECK(outcome.intent->serial_hex == first.serial_hex);
  CHECK(outcome.intent->tbs == first.tbs);
  CHECK_FALSE(outcome.existing.has_value());
  CHECK(PendingSerials(*store) == std::vector<std::string>{first.serial_hex});

  // Completing the resumed intent finishes the issuance; the next retry is kAlreadyIssued.
  CompleteOrDie(*store, *outcome.intent);
  IssueOutcome after = ReserveOrDie(*store, retry);
  CHECK(after.decision == Decision::kAlreadyIssued);
  REQUIRE(after.existing.has_value());
  CHECK(after.existing->serial_hex == first.serial_hex);
  CHECK(PendingSerials(*store).empty());

  SUBCASE("a reenroll intent is never resumed: each one is new") {
    Intent reenroll = EnrollIntent(3, 7, "device-a", HashHex(3, 'd'));
    ReenrollWith(reenroll, CertificateFor(first));
    REQUIRE(ReserveOrDie(*store, reenroll).decision == Decision::kReserved);
    reenroll.serial_hex = SerialHex(4);
    CHECK(ReserveOrDie(*store, reenroll).decision == Decision::kReserved);
  }
}

TEST_CASE_TEMPLATE("a revoked pending intent is not resumed and still spends the quota", Backend,
                   PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = Backend::Open(dir);
  Intent first = EnrollIntent(1, 1, "device-a", kBootstrap);
  REQUIRE(ReserveOrDie(*store, first).decision == Decision::kReserved);
  REQUIRE(store->RevokeSerial(first.serial_hex, 1, kRevokedAt).value() == 1);

  Intent retry = EnrollIntent(2, 1, "device-a", kBootstrap);
  CHECK(ReserveOrDie(*store, retry, 1).decision == Decision::kBootstrapExhausted);
  CHECK(ReserveOrDie(*store, retry, 2).decision == Decision::kReserved);
}

TEST_CASE_TEMPLATE("kBootstrapExhausted counts certificates and pending intents", Backend,
                   PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = Backend::Open(dir);
  // One completed issuance, one pending intent: quota 2 is spent.
  CertificateRecord issued = EnrollCertificate(1, 1, "device-a", kBootstrap);
  REQUIRE(ReserveAndComplete(*store, issued, SampleEvent("issued", issued.serial_hex),
                             IssuancePolicy{.max_per_bootstrap = 2})
              .value()
              .decision == Decision::kReserved);
  REQUIRE(ReserveOrDie(*store, EnrollIntent(2, 2, "device-a", kBootstrap), 2).decision ==
          Decision::kReserved);

  IssueOutcome third = ReserveOrDie(*store, EnrollIntent(3, 3, "device-a", kBootstrap), 2);
  CHECK(third.decision == Decision::kBootstrapExhausted);
  CHECK_FALSE(third.intent.has_value());
  CertificateRecord fourth = EnrollCertificate(4, 4, "device-a", kBootstrap);
  CHECK(ReserveAndComplete(*store, fourth, SampleEvent("issued", fourth.serial_hex),
                           IssuancePolicy{.max_per_bootstrap = 2})
            .value()
            .decision == Decision::kBootstrapExhausted);

  // Completing the intent does not count it twice.
  CompleteOrDie(*store, EnrollIntent(2, 2, "device-a", kBootstrap));
  CHECK(ReserveOrDie(*store, EnrollIntent(5, 5, "device-a", kBootstrap), 3).decision ==
        Decision::kReserved);
  CHECK(ReserveOrDie(*store, EnrollIntent(6, 6, "device-a", kBootstrap), 3).decision ==
        Decision::kBootstrapExhausted);
  // Another bootstrap certificate has its own quota; reenroll intents have none.
  CHECK(ReserveOrDie(*store, EnrollIntent(7, 7, "device-b", kOtherBootstrap), 1).decision ==
        Decision::kReserved);
  // 1 (issued), 2 (completed), 5 and 7 (pending).
  CHECK(PendingSerials(*store) == std::vector<std::string>{SerialHex(5), SerialHex(7)});
  CHECK(store->CountCertificates().value() == 2);
}

TEST_CASE_TEMPLATE("kKeyReuse: a key in another device's pending intent", Backend,
                   PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = Backend::Open(dir);
  REQUIRE(ReserveOrDie(*store, EnrollIntent(1, 1, "device-a", kBootstrap)).decision ==
          Decision::kReserved);

  SUBCASE("Reserve, enroll with a fresh bootstrap") {
    CHECK(ReserveOrDie(*store, EnrollIntent(2, 1, "device-b", kOtherBootstrap)).decision ==
          Decision::kKeyReuse);
  }
  SUBCASE("Reserve, reenroll") {
    CertificateRecord current = EnrollCertificate(8, 8, "device-b", HashHex(8, 'c'));
    Issue(*store, current);
    Intent reenroll = EnrollIntent(2, 1, "device-b", HashHex(9, 'd'));
    ReenrollWith(reenroll, current);
    CHECK(ReserveOrDie(*store, reenroll).decision == Decision::kKeyReuse);
  }
  SUBCASE("Reserve, even after the intent was revoked") {
    REQUIRE(store->RevokeDevice("device-a", 1, kRevokedAt).value() == 1);
    CHECK(ReserveOrDie(*store, EnrollIntent(2, 1, "device-b", kOtherBootstrap)).decision ==
          Decision::kKeyReuse);
  }
  SUBCASE("Reserve + Complete") {
    CertificateRecord cert = EnrollCertificate(2, 1, "device-b", kOtherBootstrap);
    CHECK(ReserveAndComplete(*store, cert, SampleEvent("issued", cert.serial_hex), IssuancePolicy{})
              .value()
              .decision == Decision::kKeyReuse);
  }
  SUBCASE("Reserve against another device's certificate") {
    CertificateRecord cert = EnrollCertificate(5, 5, "device-c", HashHex(5, 'c'));
    Issue(*store, cert);
    CHECK(ReserveOrDie(*store, EnrollIntent(2, 5, "device-b", kOtherBootstrap)).decision ==
          Decision::kKeyReuse);
  }
  CHECK(PendingSerials(*store) == std::vector<std::string>{SerialHex(1)});
}

TEST_CASE_TEMPLATE("a serial names one issuance across certificates and intents", Backend,
                   PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = Backend::Open(dir);
  CertificateRecord cert = EnrollCertificate(1, 1, "device-a", kBootstrap);
  Issue(*store, cert);  // serial 1: a certificate (and its completed intent)
  REQUIRE(ReserveOrDie(*store, EnrollIntent(2, 2, "device-b", kOtherBootstrap)).decision ==
          Decision::kReserved);

  // Reserve with a certificate's serial, and with an intent's (other key and bootstrap: no resume).
  for (int serial : {1, 2}) {
    CAPTURE(serial);
    auto reserved =
        store->Reserve(EnrollIntent(serial, 3, "device-c", HashHex(3, 'c')), IssuancePolicy{});
    REQUIRE_FALSE(reserved.has_value());
    CHECK(reserved.error().code == Code::kDuplicateSerial);
  }
  // A whole issuance with a pending intent's serial stops at Reserve.
  CertificateRecord clash = EnrollCertificate(2, 4, "device-d", HashHex(4, 'c'));
  auto issued =
      ReserveAndComplete(*store, clash, SampleEvent("issued", clash.serial_hex), IssuancePolicy{});
  REQUIRE_FALSE(issued.has_value());
  CHECK(issued.error().code == Code::kDuplicateSerial);

  CHECK(store->CountCertificates().value() == 1);
  CHECK(PendingSerials(*store) == std::vector<std::string>{SerialHex(2)});
  CHECK(IssuanceEventCount(*store) == 1);
}

TEST_CASE_TEMPLATE("the schema refuses an intent without tbs or with a bad kind or time", Backend,
                   PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = Backend::Open(dir);
  Intent intent = EnrollIntent(1, 1, "device-a", kBootstrap);
  SUBCASE("empty tbs") { intent.tbs.clear(); }
  SUBCASE("unknown kind") { intent.kind = "renew"; }
  SUBCASE("not_after not ISO 8601 UTC") { intent.not_after = "2026-11-27 07:50:28"; }
  SUBCASE("uppercase serial") { intent.serial_hex = "ABCDEF"; }
  auto reserved = store->Reserve(intent, IssuancePolicy{});
  REQUIRE_FALSE(reserved.has_value());
  CHECK(reserved.error().code == Code::kConstraint);
  CHECK(store->PendingIntents().value().empty());
}

TEST_CASE_TEMPLATE(
    "Complete inserts the certificate and its chained event and marks the intent issued", Backend,
    PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = Backend::Open(dir);
  Intent intent = EnrollIntent(1, 1, "device-a", kBootstrap);
  REQUIRE(ReserveOrDie(*store, intent).decision == Decision::kReserved);
  REQUIRE(store->RecordEvent(SampleEvent("rejected")).has_value());
  CertificateRecord cert = CertificateFor(intent);

  SUBCASE("refused: no such intent") {
    CertificateRecord unknown = CertificateFor(EnrollIntent(9, 9, "device-z", kOtherBootstrap));
    auto completed = store->Complete(unknown, SampleEvent("issued", unknown.serial_hex));
    REQUIRE_FALSE(completed.has_value());
    CHECK(completed.error().code == Code::kConstraint);
    CHECK(completed.error().detail.find("no issuance intent") != std::string::npos);
  }
  SUBCASE("refused: the certificate does not match its intent") {
    cert.public_key_sha256 = HashHex(8);
    auto completed = store->Complete(cert, SampleEvent("issued", cert.serial_hex));
    REQUIRE_FALSE(completed.has_value());
    CHECK(completed.error().code == Code::kConstraint);
    CHECK(completed.error().detail.find("public_key_sha256") != std::string::npos);
  }
  SUBCASE("refused: the intent was revoked while pending") {
    REQUIRE(store->RevokeSerial(intent.serial_hex, 4, kRevokedAt).value() == 1);
    auto completed = store->Complete(cert, SampleEvent("issued", cert.serial_hex));
    REQUIRE_FALSE(completed.has_value());
    CHECK(completed.error().code == Code::kConstraint);
    CHECK(completed.error().detail.find("revoked") != std::string::npos);
  }
  CHECK(store->CountCertificates().value() == 0);
  CHECK(IssuanceEventCount(*store) == 1);

  SUBCASE("success, once") {
    REQUIRE(store->Complete(cert, SampleEvent("issued", cert.serial_hex)).has_value());
    CHECK(PendingSerials(*store).empty());
    auto found = store->FindBySerial(cert.serial_hex).value();
    REQUIRE(found.has_value());
    CHECK(found->der == cert.der);
    CHECK(store->CertificateStatus(cert.serial_hex).value() == CertStatus::kActive);
    auto events = store->RecentEvents(1).value();
    REQUIRE(events.size() == 1);
    CHECK(events.front().serial_hex == cert.serial_hex);
    auto report = store->VerifyAuditChain().value();
    CHECK_MESSAGE(report.ok, report.problem);
    CHECK(report.rows_checked == 3);  // the intent's state event, "rejected", "issued"

    auto again = store->Complete(cert, SampleEvent("issued", cert.serial_hex));
    REQUIRE_FALSE(again.has_value());
    CHECK(again.error().code == Code::kConstraint);
    CHECK(again.error().detail.find("already issued") != std::string::npos);
    CHECK(store->CountCertificates().value() == 1);
  }
}

TEST_CASE_TEMPLATE("revocation covers pending intents: status, counts and the CRL", Backend,
                   PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = Backend::Open(dir);
  const std::string now = "2026-10-01T00:00:00Z";
  // device-a: one certificate (expires 11-27), one issued intent, one pending intent (10-15).
  Intent done = EnrollIntent(1, 1, "device-a", kBootstrap);
  REQUIRE(ReserveOrDie(*store, done, 3).decision == Decision::kReserved);
  CompleteOrDie(*store, done);
  Intent pending = EnrollIntent(2, 2, "device-a", kBootstrap);
  pending.not_after = "2026-10-15T00:00:00Z";
  REQUIRE(ReserveOrDie(*store, pending, 3).decision == Decision::kReserved);
  // device-b: a pending intent revoked by serial, already expired by `now`.
  Intent expired = EnrollIntent(3, 3, "device-b", kOtherBootstrap);
  expired.not_after = "2026-09-15T00:00:00Z";
  REQUIRE(ReserveOrDie(*store, expired).decision == Decision::kReserved);
  REQUIRE(store->RevokeSerial(expired.serial_hex, 1, kRevokedAt).value() == 1);
  CHECK(store->RevokeSerial(expired.serial_hex, 1, kRevokedAt).value() == 0);

  // One certificate and one pending intent of device-a; the issued intent is its certificate.
  CHECK(store->RevokeDevice("device-a", 5, kRevokedAt).value() == 2);
  CHECK(store->CertificateStatus(done.serial_hex).value() == CertStatus::kRevoked);
  CHECK(store->CertificateStatus(pending.serial_hex).value() == CertStatus::kRevoked);
  CHECK(store->CertificateStatus(SerialHex(99)).value() == CertStatus::kUnknown);

  auto crl = store->RevokedUnexpired(now).value();
  REQUIRE(crl.size() == 2);  // soonest expiry first: the intent, then the certificate
  CHECK(crl[0].serial_hex == pending.serial_hex);
  CHECK(crl[0].device_id == "device-a");
  CHECK(crl[0].not_after == pending.not_after);
  CHECK(crl[0].revoked_at == std::optional<std::string>(kRevokedAt));
  CHECK(crl[0].revocation_reason == std::optional<int>(5));
  CHECK(crl[0].der.empty());
  CHECK(crl[1].serial_hex == done.serial_hex);
  CHECK_FALSE(crl[1].der.empty());

  auto still_pending = store->PendingIntents().value();
  REQUIRE(still_pending.size() == 2);  // revoked intents stay pending, and are reported
  for (const Intent& intent : still_pending) CHECK(intent.revoked_at.has_value());
}

TEST_CASE_TEMPLATE("profile: stored with the intent, required of its certificate, read back",
                   Backend, PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = Backend::Open(dir);
  Intent intent = EnrollIntent(1, 1, "device-a", kBootstrap);
  intent.profile = "line-a";
  REQUIRE(ReserveOrDie(*store, intent).decision == Decision::kReserved);
  CHECK(store->PendingIntents().value().front().profile == "line-a");
  CertificateRecord cert = CertificateFor(intent);  // profile "" (the default profile)
  auto mismatched = store->Complete(cert, SampleEvent("issued", cert.serial_hex));
  REQUIRE_FALSE(mismatched.has_value());
  CHECK(mismatched.error().code == Code::kConstraint);
  CHECK(mismatched.error().detail.find("profile") != std::string::npos);
  cert.profile = "line-a";
  REQUIRE(store->Complete(cert, SampleEvent("issued", cert.serial_hex)).has_value());
  CHECK(store->FindBySerial(cert.serial_hex).value()->profile == "line-a");
  CHECK(store->FindByDevice("device-a").value().front().profile == "line-a");
  CHECK(store->ListCertificates({}).value().front().profile == "line-a");
}

TEST_CASE("SQLite: a trigger refusing Complete's event insert leaves the intent pending") {
  TempDir dir;
  std::string path = dir.File("store.db");
  auto store = OpenOrDie(path);
  Intent intent = EnrollIntent(1, 1, "device-a", kBootstrap);
  REQUIRE(ReserveOrDie(*store, intent).decision == Decision::kReserved);
  ExecRaw(OpenRaw(path).get(),
          "CREATE TRIGGER t BEFORE INSERT ON enrollment_events "
          "BEGIN SELECT RAISE(ABORT, 'injected'); END;");
  CertificateRecord cert = CertificateFor(intent);
  auto completed = store->Complete(cert, SampleEvent("issued", cert.serial_hex));
  REQUIRE_FALSE(completed.has_value());
  CHECK(completed.error().code == Code::kConstraint);
  CHECK(PendingSerials(*store) == std::vector<std::string>{intent.serial_hex});
  CHECK(RowCount(path, "certificates") == 0);
}

}  // namespace
}  // namespace db::testing
