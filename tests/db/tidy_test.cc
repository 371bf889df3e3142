// tidy_test.cc — retention on both backends (db/sql_tidy.cc, db/audit_tidy.h): what tidy removes
// and never removes, the one-time bootstrap rule across a removal, expired pending intents, and
// the audit chain verifying across a removal and a truncation, with tampering still caught.
#include <doctest/doctest.h>
#include <libpq-fe.h>

#include <memory>
#include <string>
#include <type_traits>

#include "db/store.h"
#include "tests/db/admin_writes.h"
#include "tests/db/backend.h"
#include "tests/db/sqlite_fixture.h"
#include "tests/db/tamper.h"

namespace db::testing {
namespace {

constexpr const char* kPast = "2020-01-01T00:00:00Z";      // long expired
constexpr const char* kFuture = "2099-01-01T00:00:00Z";    // not expired
constexpr const char* kBefore = "2025-01-01T00:00:00Z";    // the tidy's --expired-before

CertificateRecord Cert(int n, const std::string& device, const std::string& not_after,
                       const std::string& kind = "enroll") {
  CertificateRecord cert = EnrollCertificate(n, n, device, HashHex(n, 'c'));
  cert.not_after = not_after;
  cert.kind = kind;
  return cert;
}

TidyBounds Bounds(const std::string& revoked_before = "") {
  return TidyBounds{.expired_before = kBefore, .revoked_before = revoked_before,
                    .tidied_at = "2026-12-07T00:00:00Z"};
}

std::vector<std::string> Serials(const std::vector<CertificateRecord>& certs) {
  std::vector<std::string> out;
  for (const auto& c : certs) out.push_back(c.serial_hex);
  return out;
}

void RequireVerified(Store& store) {
  auto report = store.VerifyAuditChain();
  REQUIRE_MESSAGE(report.has_value(), (report ? "" : report.error().detail));
  CHECK_MESSAGE(report->ok, report->problem);
}

bool Has(Store& store, int n) { return store.FindBySerial(SerialHex(n)).value().has_value(); }

}  // namespace

TEST_CASE_TEMPLATE("tidy removes expired certificates, revoked ones only once no CRL lists them, "
                   "and never an active or a revoked-but-unexpired one", Backend,
                   PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = Backend::Open(dir);
  Issue(*store, Cert(1, "active", kFuture));
  Issue(*store, Cert(2, "expired", kPast));
  Issue(*store, Cert(3, "revoked-unexpired", kFuture));
  Issue(*store, Cert(4, "revoked-expired", kPast));
  Issue(*store, Cert(5, "renewed", kPast, "enroll"));
  CertificateRecord renewed = Cert(6, "renewed", kPast);
  ReenrollWith(renewed, Cert(5, "renewed", kPast));
  Issue(*store, renewed);
  REQUIRE(store->RevokeSerial(SerialHex(3), 1, "2026-01-01T00:00:00Z").value() == 1);
  REQUIRE(store->RevokeSerial(SerialHex(4), 1, "2019-06-01T00:00:00Z").value() == 1);
  // No CRL built yet: a revoked certificate may still be on the last one published.
  CHECK_FALSE(store->CrlDroppedBefore().value().has_value());
  auto first = store->TidyCertificates(Bounds(), 100).value();
  CHECK(first.size() == 3);  // 2, 5, 6
  CHECK(store->RemoveCertificates(Serials(first), Bounds()).value() == 3);
  CHECK(Has(*store, 1));
  CHECK_FALSE(Has(*store, 2));
  CHECK(Has(*store, 3));
  CHECK(Has(*store, 4));
  CHECK_FALSE(Has(*store, 6));
  RequireVerified(*store);
  // Asked by serial, the removal checks the bounds again: the active and the revoked-unexpired
  // certificate stay whatever the caller lists.
  const std::vector<std::string> never = {SerialHex(1), SerialHex(3), SerialHex(4)};
  CHECK(store->RemoveCertificates(never, Bounds(kBefore)).value() == 1);  // only 4
  CHECK(Has(*store, 1));
  CHECK(Has(*store, 3));
  CHECK_FALSE(Has(*store, 4));
  // A CRL built at 2021-01-01 (keep-after-expiry included) left out what expired before then.
  REQUIRE(store->NoteCrlBuilt("2021-01-01T00:00:00Z").has_value());
  REQUIRE(store->NoteCrlBuilt("2020-06-01T00:00:00Z").has_value());  // never lowered
  CHECK(store->CrlDroppedBefore().value() == std::optional<std::string>("2021-01-01T00:00:00Z"));
  CHECK(store->TidyCertificates(Bounds("2021-01-01T00:00:00Z"), 100).value().empty());
  CHECK(store->CountCertificates().value() == 2);
  RequireVerified(*store);
}

TEST_CASE_TEMPLATE("tidy keeps the revoked-expired certificate a CRL may still list", Backend,
                   PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = Backend::Open(dir);
  Issue(*store, Cert(1, "revoked-expired", "2022-06-01T00:00:00Z"));
  REQUIRE(store->RevokeSerial(SerialHex(1), 1, "2021-06-01T00:00:00Z").value() == 1);
  REQUIRE(store->NoteCrlBuilt("2022-01-01T00:00:00Z").has_value());  // the last CRL listed it
  const TidyBounds bounds = Bounds("2022-01-01T00:00:00Z");
  CHECK(store->TidyCertificates(bounds, 100).value().empty());
  CHECK(store->RemoveCertificates({SerialHex(1)}, bounds).value() == 0);
  CHECK(Has(*store, 1));
  REQUIRE(store->NoteCrlBuilt("2023-01-01T00:00:00Z").has_value());  // a later one did not
  CHECK(store->RemoveCertificates({SerialHex(1)}, Bounds("2023-01-01T00:00:00Z")).value() == 1);
  CHECK_FALSE(Has(*store, 1));
  RequireVerified(*store);
}

TEST_CASE_TEMPLATE("a bootstrap certificate whose enrollment tidy removed cannot enroll again",
                   Backend, PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = Backend::Open(dir);
  const std::string bootstrap = HashHex(1, 'c');
  CertificateRecord old = EnrollCertificate(1, 1, "device-a", bootstrap);
  old.not_after = kPast;
  Issue(*store, old);
  CHECK(store->RemoveCertificates({old.serial_hex}, Bounds()).value() == 1);
  REQUIRE(store->CountCertificates().value() == 0);
  // The same bootstrap certificate with a new key (a clone, or the device after its certificate
  // lapsed): refused as before the removal, by the tombstone.
  CHECK(ReserveOrDie(*store, EnrollIntent(2, 2, "device-a", bootstrap)).decision ==
        Decision::kBootstrapExhausted);
  // Another bootstrap certificate naming the same device id: the device's quota still counts it.
  CHECK(ReserveOrDie(*store, EnrollIntent(3, 3, "device-a", HashHex(3, 'c'))).decision ==
        Decision::kDeviceEnrolled);
  // A re-bootstrap grant still recognises the device's own bootstrap certificate.
  RebootstrapGrant grant{.device_id = "device-a", .reason = "reset",
                         .granted_at = "2026-01-01T00:00:00Z", .expires_at = kFuture};
  REQUIRE(GrantAsAdmin(*store, grant).value().has_value());
  Intent reset = EnrollIntent(4, 4, "device-a", bootstrap);
  reset.created_at = "2026-01-02T00:00:00Z";
  CHECK(ReserveOrDie(*store, reset).decision == Decision::kReserved);
  RequireVerified(*store);
  // The tombstone is state the chain records: deleting it by hand shows.
  Tamper<Backend>(dir, "DELETE FROM enroll_tombstones");
  auto report = store->VerifyAuditChain().value();
  CHECK_FALSE(report.ok);
  CHECK_MESSAGE(report.problem.find("tombstoned") != std::string::npos, report.problem);
}

TEST_CASE_TEMPLATE("tidy removes pending intents whose certificate would be expired, and only "
                   "those", Backend, PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = Backend::Open(dir);
  Intent spent = EnrollIntent(1, 1, "device-a", HashHex(1, 'c'));
  spent.not_after = kPast;
  Intent live = EnrollIntent(2, 2, "device-b", HashHex(2, 'c'));
  live.not_after = kFuture;
  REQUIRE(ReserveOrDie(*store, spent).decision == Decision::kReserved);
  REQUIRE(ReserveOrDie(*store, live).decision == Decision::kReserved);
  auto found = store->TidyIntents(Bounds(), 100).value();
  REQUIRE(found.size() == 1);
  CHECK(found[0].serial_hex == spent.serial_hex);
  CHECK(store->RemoveIntents({spent.serial_hex, live.serial_hex}, Bounds()).value() == 1);
  auto pending = store->PendingIntents().value();
  REQUIRE(pending.size() == 1);
  CHECK(pending[0].serial_hex == live.serial_hex);
  // The removed intent had reserved its bootstrap certificate's one enrollment.
  CHECK(ReserveOrDie(*store, EnrollIntent(3, 3, "device-a", HashHex(1, 'c'))).decision ==
        Decision::kBootstrapExhausted);
  CompleteOrDie(*store, live);
  RequireVerified(*store);
}

}  // namespace db::testing
