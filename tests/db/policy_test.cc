// policy_test.cc — tests the issuance policy (Store::Reserve: db/sql_issuance.cc) through the one
// write path, Reserve + Complete: each Decision with its exact preconditions. Every case runs per
// backend (tests/db/backend.h); the races are in race_test.cc.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "db/store.h"
#include "tests/db/backend.h"

namespace db::testing {
namespace {

const std::string kBootstrap = HashHex(1, 'c');
const std::string kOtherBootstrap = HashHex(2, 'c');

// Reserve + Complete (store_fixture.h): kReserved means the certificate is committed.
IssueOutcome IssueOrDie(Store& store, const CertificateRecord& cert, int max_per_bootstrap = 1) {
  auto outcome = ReserveAndComplete(store, cert, SampleEvent("issued", cert.serial_hex),
                                    IssuancePolicy{.max_per_bootstrap = max_per_bootstrap});
  REQUIRE_MESSAGE(outcome.has_value(), (outcome ? "" : outcome.error().detail));
  return *outcome;
}

// true if a pending intent (revoked or not) has this serial.
bool PendingSerial(Store& store, const std::string& serial_hex) {
  const std::vector<Intent> pending = store.PendingIntents().value();
  for (const Intent& intent : pending) {
    if (intent.serial_hex == serial_hex) return true;
  }
  return false;
}

TEST_CASE_TEMPLATE("kReserved, then Complete, inserts the certificate and its issued event",
                   Backend, PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = Backend::Open(dir);
  CertificateRecord cert = EnrollCertificate(1, 1, "device-a", kBootstrap);
  IssueOutcome outcome = IssueOrDie(*store, cert);
  CHECK(outcome.decision == Decision::kReserved);
  CHECK_FALSE(outcome.existing.has_value());

  auto found = store->FindBySerial(cert.serial_hex);
  REQUIRE(found.has_value());
  REQUIRE(found->has_value());
  CHECK((*found)->public_key_sha256 == cert.public_key_sha256);
  CHECK(store->PendingIntents().value().empty());
  CHECK(IssuanceEventCount(*store) == 1);
  auto events = store->RecentEvents(1).value();
  REQUIRE(events.size() == 1);
  CHECK(events.front().outcome == "issued");
  CHECK(events.front().serial_hex == cert.serial_hex);
}

TEST_CASE_TEMPLATE(
    "kAlreadyIssued: a same-key retry returns the newest such row and inserts nothing", Backend,
    PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = Backend::Open(dir);
  CertificateRecord first = EnrollCertificate(1, 1, "device-a", kBootstrap);
  REQUIRE(IssueOrDie(*store, first).decision == Decision::kReserved);

  CertificateRecord retry = EnrollCertificate(2, 1, "device-a", kBootstrap);
  SUBCASE("with the quota used up") {
    IssueOutcome outcome = IssueOrDie(*store, retry, 1);
    CHECK(outcome.decision == Decision::kAlreadyIssued);
    REQUIRE(outcome.existing.has_value());
    CHECK(outcome.existing->serial_hex == first.serial_hex);
    CHECK(outcome.existing->der == first.der);
  }
  SUBCASE("even with quota left: a retry does not spend it") {
    IssueOutcome outcome = IssueOrDie(*store, retry, 5);
    CHECK(outcome.decision == Decision::kAlreadyIssued);
    REQUIRE(outcome.existing.has_value());
    CHECK(outcome.existing->serial_hex == first.serial_hex);
  }
  CHECK(store->FindBySerial(retry.serial_hex).value() == std::nullopt);
  CHECK_FALSE(PendingSerial(*store, retry.serial_hex));
  CHECK(store->CertificateStatus(retry.serial_hex).value() == CertStatus::kUnknown);
  CHECK(IssuanceEventCount(*store) == store->CountCertificates().value());
}

TEST_CASE_TEMPLATE("a revoked same-key row is no retry: the quota decides", Backend,
                   PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = Backend::Open(dir);
  CertificateRecord first = EnrollCertificate(1, 1, "device-a", kBootstrap);
  REQUIRE(IssueOrDie(*store, first).decision == Decision::kReserved);
  REQUIRE(store->RevokeSerial(first.serial_hex, 1, "2026-09-01T00:00:00Z").value() == 1);

  CertificateRecord retry = EnrollCertificate(2, 1, "device-a", kBootstrap);
  IssueOutcome exhausted = IssueOrDie(*store, retry, 1);
  CHECK(exhausted.decision == Decision::kBootstrapExhausted);
  CHECK_FALSE(exhausted.existing.has_value());
  CHECK(IssueOrDie(*store, retry, 2).decision == Decision::kReserved);
}

TEST_CASE_TEMPLATE(
    "kBootstrapExhausted counts kind='enroll' rows of this bootstrap certificate only", Backend,
    PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = Backend::Open(dir);
  REQUIRE(IssueOrDie(*store, EnrollCertificate(1, 1, "device-a", kBootstrap), 2).decision ==
          Decision::kReserved);
  REQUIRE(IssueOrDie(*store, EnrollCertificate(2, 2, "device-a", kBootstrap), 2).decision ==
          Decision::kReserved);
  IssueOutcome third = IssueOrDie(*store, EnrollCertificate(3, 3, "device-a", kBootstrap), 2);
  CHECK(third.decision == Decision::kBootstrapExhausted);
  CHECK_FALSE(third.existing.has_value());
  CHECK(store->CountCertificates().value() == 2);
  CHECK(IssuanceEventCount(*store) == 2);

  // A policy with no enrollments at all.
  CHECK(IssueOrDie(*store, EnrollCertificate(4, 4, "device-b", kOtherBootstrap), 0).decision ==
        Decision::kBootstrapExhausted);

  // Another bootstrap certificate has its own quota.
  CHECK(IssueOrDie(*store, EnrollCertificate(5, 5, "device-b", kOtherBootstrap), 1).decision ==
        Decision::kReserved);

  // Reenrollments authenticated by the same fingerprint are not enrollments and do not count,
  // and reenrollment has no quota.
  TempDir dir2;
  auto fresh = Backend::Open(dir2);
  // (A reenroll must present an unrevoked certificate of ours: one whose fingerprint is
  // kBootstrap's value stands in for it.)
  CertificateRecord current = EnrollCertificate(9, 9, "device-c", kOtherBootstrap);
  current.fingerprint_sha256 = kBootstrap;
  REQUIRE(IssueOrDie(*fresh, current, 1).decision == Decision::kReserved);
  for (int i = 0; i < 3; ++i) {
    CertificateRecord reenroll = EnrollCertificate(10 + i, 10 + i, "device-c", kBootstrap);
    ReenrollWith(reenroll, current);
    CHECK(IssueOrDie(*fresh, reenroll, 1).decision == Decision::kReserved);
  }
  // (Another device id: device-c itself has used its one enrollment, finding 9's per-device quota.)
  CHECK(IssueOrDie(*fresh, EnrollCertificate(20, 20, "device-d", kBootstrap), 1).decision ==
        Decision::kReserved);
}

// Issue #12 finding 9: the quota is per device id too, so a second bootstrap certificate naming
// the same device (another manufacturer's CN=dev-3 under --identity-scope global) is refused.
TEST_CASE_TEMPLATE(
    "kDeviceEnrolled: one device id's enrollments count whichever bootstrap certificate", Backend,
    PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = Backend::Open(dir);
  const CertificateRecord first = EnrollCertificate(1, 1, "device-a", kBootstrap);
  REQUIRE(IssueOrDie(*store, first).decision == Decision::kReserved);
  // Another bootstrap certificate, same device id: refused, nothing is written.
  CHECK(IssueOrDie(*store, EnrollCertificate(2, 2, "device-a", kOtherBootstrap)).decision ==
        Decision::kDeviceEnrolled);
  auto reserved = store->Reserve(EnrollIntent(3, 3, "device-a", kOtherBootstrap), IssuancePolicy{});
  REQUIRE(reserved.has_value());
  CHECK(reserved->decision == Decision::kDeviceEnrolled);
  CHECK(store->PendingIntents().value().empty());
  // A pending intent for the device counts too, and a quota of 2 leaves room for one more.
  auto pending = store->Reserve(EnrollIntent(4, 4, "device-a", kOtherBootstrap),
                                IssuancePolicy{.max_per_bootstrap = 2});
  REQUIRE(pending.has_value());
  CHECK(pending->decision == Decision::kReserved);
  CHECK(IssueOrDie(*store, EnrollCertificate(5, 5, "device-a", HashHex(3, 'c')), 2).decision ==
        Decision::kDeviceEnrolled);
  // A scope-qualified id is another device; renewals are not counted.
  CHECK(IssueOrDie(*store, EnrollCertificate(6, 6, "0123456789abcdef:device-a", kOtherBootstrap), 2)
            .decision == Decision::kReserved);
  // (authenticated by the device's certificate, as a renewal is)
  CertificateRecord renewal = EnrollCertificate(7, 7, "device-a", first.fingerprint_sha256);
  renewal.kind = "reenroll";
  renewal.auth_cert_serial = first.serial_hex;
  CHECK(IssueOrDie(*store, renewal).decision == Decision::kReserved);
}

TEST_CASE_TEMPLATE(
    "kKeyReuse: a key in another device's certificate is refused before anything else", Backend,
    PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = Backend::Open(dir);
  CertificateRecord owner = EnrollCertificate(1, 1, "device-a", kBootstrap);
  REQUIRE(IssueOrDie(*store, owner).decision == Decision::kReserved);

  SUBCASE("enroll by another device, even with quota and the same bootstrap") {
    IssueOutcome outcome = IssueOrDie(*store, EnrollCertificate(2, 1, "device-b", kBootstrap), 10);
    CHECK(outcome.decision == Decision::kKeyReuse);
    CHECK_FALSE(outcome.existing.has_value());
  }
  SUBCASE("enroll by another device with its own fresh bootstrap") {
    CHECK(IssueOrDie(*store, EnrollCertificate(2, 1, "device-b", kOtherBootstrap)).decision ==
          Decision::kKeyReuse);
  }
  SUBCASE("reenroll by another device") {
    CertificateRecord current = EnrollCertificate(8, 8, "device-b", kOtherBootstrap);
    REQUIRE(IssueOrDie(*store, current).decision == Decision::kReserved);
    CertificateRecord reenroll = EnrollCertificate(2, 1, "device-b", HashHex(9, 'd'));
    ReenrollWith(reenroll, current);
    CHECK(IssueOrDie(*store, reenroll).decision == Decision::kKeyReuse);
  }
  SUBCASE("even after the owner's certificate was revoked") {
    REQUIRE(store->RevokeDevice("device-a", 1, "2026-09-01T00:00:00Z").value() == 1);
    CHECK(IssueOrDie(*store, EnrollCertificate(2, 1, "device-b", kOtherBootstrap)).decision ==
          Decision::kKeyReuse);
  }
  // Nothing was issued with the owner's key but the owner's certificate (a subcase issues
  // device-b's current certificate, with its own key).
  int with_owner_key = 0;
  const std::vector<CertificateRecord> certificates = store->ListCertificates(ListFilter{}).value();
  for (const CertificateRecord& cert : certificates) {
    with_owner_key += cert.public_key_sha256 == HashHex(1) ? 1 : 0;
  }
  CHECK(with_owner_key == 1);
  CHECK(IssuanceEventCount(*store) == store->CountCertificates().value());
}

TEST_CASE_TEMPLATE("the same device may reenroll with its key, repeatedly", Backend,
                   PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = Backend::Open(dir);
  CertificateRecord current = EnrollCertificate(1, 1, "device-a", kBootstrap);
  REQUIRE(IssueOrDie(*store, current).decision == Decision::kReserved);
  for (int i = 0; i < 2; ++i) {
    CertificateRecord reenroll = EnrollCertificate(2 + i, 1, "device-a", HashHex(i, 'd'));
    ReenrollWith(reenroll, current);
    CHECK(IssueOrDie(*store, reenroll).decision == Decision::kReserved);
    current = reenroll;
  }
  CHECK(store->CountCertificates().value() == 3);
}

TEST_CASE_TEMPLATE("Reserve + Complete errors: duplicate serial and a mismatched event serial",
                   Backend, PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = Backend::Open(dir);
  REQUIRE(IssueOrDie(*store, EnrollCertificate(1, 1, "device-a", kBootstrap)).decision ==
          Decision::kReserved);

  CertificateRecord collision = EnrollCertificate(1, 2, "device-b", kOtherBootstrap);
  collision.fingerprint_sha256 = HashHex(7, 'e');
  auto duplicate = ReserveAndComplete(
      *store, collision, SampleEvent("issued", collision.serial_hex), IssuancePolicy{});
  REQUIRE_FALSE(duplicate.has_value());
  CHECK(duplicate.error().code == Code::kDuplicateSerial);

  CertificateRecord cert = EnrollCertificate(2, 2, "device-b", kOtherBootstrap);
  auto mismatched =
      ReserveAndComplete(*store, cert, SampleEvent("issued", SerialHex(99)), IssuancePolicy{});
  REQUIRE_FALSE(mismatched.has_value());
  CHECK(mismatched.error().code == Code::kInternal);

  CHECK(store->CountCertificates().value() == 1);
  CHECK(IssuanceEventCount(*store) == 1);
  // The mismatched Complete wrote nothing: its intent is still pending, to be completed or revoked.
  REQUIRE(store->PendingIntents().value().size() == 1);
  CHECK(store->PendingIntents().value().front().serial_hex == cert.serial_hex);
}

}  // namespace
}  // namespace db::testing
