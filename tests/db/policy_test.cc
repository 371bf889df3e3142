// policy_test.cc — tests Store::IssueUnderPolicy (db/policy.cc): each Decision with its exact
// preconditions, and that concurrent requests cannot exceed the per-bootstrap quota.
#include <doctest/doctest.h>

#include <atomic>
#include <latch>
#include <thread>
#include <vector>

#include "db/store.h"
#include "tests/db/sqlite_fixture.h"

namespace db::testing {
namespace {

const std::string kBootstrap = HashHex(1, 'c');
const std::string kOtherBootstrap = HashHex(2, 'c');

IssueOutcome IssueOrDie(Store& store, const CertificateRecord& cert, int max_per_bootstrap = 1) {
  auto outcome = store.IssueUnderPolicy(cert, SampleEvent("issued", cert.serial_hex),
                                        IssuancePolicy{.max_per_bootstrap = max_per_bootstrap});
  REQUIRE_MESSAGE(outcome.has_value(), (outcome ? "" : outcome.error().detail));
  return *outcome;
}

// Events other than the state events revocations and intents add (db/audit_state.h).
constexpr const char* kIssuanceEvents = "enrollment_events WHERE endpoint <> 'state'";

int64_t Count(const std::string& path, const std::string& table) {
  return QueryRawInt(OpenRaw(path).get(), "SELECT count(*) FROM " + table);
}

TEST_CASE("kIssued inserts the certificate and its event like RecordIssuance") {
  TempDir dir;
  std::string path = dir.File("store.db");
  auto store = OpenOrDie(path);
  CertificateRecord cert = EnrollCertificate(1, 1, "device-a", kBootstrap);
  IssueOutcome outcome = IssueOrDie(*store, cert);
  CHECK(outcome.decision == Decision::kIssued);
  CHECK_FALSE(outcome.existing.has_value());

  auto found = store->FindBySerial(cert.serial_hex);
  REQUIRE(found.has_value());
  REQUIRE(found->has_value());
  CHECK((*found)->public_key_sha256 == cert.public_key_sha256);
  auto events = store->RecentEvents(10);
  REQUIRE(events.has_value());
  REQUIRE(events->size() == 1);
  CHECK(events->front().serial_hex == cert.serial_hex);
  CHECK(events->front().outcome == "issued");
}

TEST_CASE("kAlreadyIssued: a same-key retry returns the newest such row and inserts nothing") {
  TempDir dir;
  std::string path = dir.File("store.db");
  auto store = OpenOrDie(path);
  CertificateRecord first = EnrollCertificate(1, 1, "device-a", kBootstrap);
  REQUIRE(IssueOrDie(*store, first).decision == Decision::kIssued);

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
  SUBCASE("the newest of several same-key rows") {
    CertificateRecord second = EnrollCertificate(3, 1, "device-a", kBootstrap);
    REQUIRE(store->RecordIssuance(second, SampleEvent("issued", second.serial_hex)).has_value());
    IssueOutcome outcome = IssueOrDie(*store, retry, 5);
    CHECK(outcome.decision == Decision::kAlreadyIssued);
    REQUIRE(outcome.existing.has_value());
    CHECK(outcome.existing->serial_hex == second.serial_hex);
  }
  CHECK(store->FindBySerial(retry.serial_hex).value() == std::nullopt);
  CHECK(Count(path, kIssuanceEvents) == Count(path, "certificates"));
}

TEST_CASE("a revoked same-key row is no retry: the quota decides") {
  TempDir dir;
  std::string path = dir.File("store.db");
  auto store = OpenOrDie(path);
  CertificateRecord first = EnrollCertificate(1, 1, "device-a", kBootstrap);
  REQUIRE(IssueOrDie(*store, first).decision == Decision::kIssued);
  REQUIRE(store->RevokeSerial(first.serial_hex, 1, "2026-09-01T00:00:00Z").value() == 1);

  CertificateRecord retry = EnrollCertificate(2, 1, "device-a", kBootstrap);
  IssueOutcome exhausted = IssueOrDie(*store, retry, 1);
  CHECK(exhausted.decision == Decision::kBootstrapExhausted);
  CHECK_FALSE(exhausted.existing.has_value());
  CHECK(IssueOrDie(*store, retry, 2).decision == Decision::kIssued);
}

TEST_CASE("kBootstrapExhausted counts kind='enroll' rows of this bootstrap certificate only") {
  TempDir dir;
  std::string path = dir.File("store.db");
  auto store = OpenOrDie(path);
  REQUIRE(IssueOrDie(*store, EnrollCertificate(1, 1, "device-a", kBootstrap), 2).decision ==
          Decision::kIssued);
  REQUIRE(IssueOrDie(*store, EnrollCertificate(2, 2, "device-a", kBootstrap), 2).decision ==
          Decision::kIssued);
  IssueOutcome third = IssueOrDie(*store, EnrollCertificate(3, 3, "device-a", kBootstrap), 2);
  CHECK(third.decision == Decision::kBootstrapExhausted);
  CHECK_FALSE(third.existing.has_value());
  CHECK(store->CountCertificates().value() == 2);
  CHECK(Count(path, kIssuanceEvents) == 2);

  // A policy with no enrollments at all.
  CHECK(IssueOrDie(*store, EnrollCertificate(4, 4, "device-b", kOtherBootstrap), 0).decision ==
        Decision::kBootstrapExhausted);

  // Another bootstrap certificate has its own quota.
  CHECK(IssueOrDie(*store, EnrollCertificate(5, 5, "device-b", kOtherBootstrap), 1).decision ==
        Decision::kIssued);

  // Reenrollments authenticated by the same fingerprint are not enrollments and do not count,
  // and reenrollment has no quota.
  TempDir dir2;
  auto fresh = OpenOrDie(dir2.File("store.db"));
  // (A reenroll must present an unrevoked certificate of ours: one whose fingerprint is
  // kBootstrap's value stands in for it.)
  CertificateRecord current = EnrollCertificate(9, 9, "device-c", kOtherBootstrap);
  current.fingerprint_sha256 = kBootstrap;
  REQUIRE(IssueOrDie(*fresh, current, 1).decision == Decision::kIssued);
  for (int i = 0; i < 3; ++i) {
    CertificateRecord reenroll = EnrollCertificate(10 + i, 10 + i, "device-c", kBootstrap);
    ReenrollWith(reenroll, current);
    CHECK(IssueOrDie(*fresh, reenroll, 1).decision == Decision::kIssued);
  }
  // (Another device id: device-c itself has used its one enrollment, finding 9's per-device quota.)
  CHECK(IssueOrDie(*fresh, EnrollCertificate(20, 20, "device-d", kBootstrap), 1).decision ==
        Decision::kIssued);
}

// Issue #12 finding 9: the quota is per device id too, so a second bootstrap certificate naming
// the same device (another manufacturer's CN=dev-3 under --identity-scope global) is refused.
TEST_CASE("kDeviceEnrolled: one device id's enrollments count whichever bootstrap certificate") {
  TempDir dir;
  std::string path = dir.File("store.db");
  auto store = OpenOrDie(path);
  const CertificateRecord first = EnrollCertificate(1, 1, "device-a", kBootstrap);
  REQUIRE(IssueOrDie(*store, first).decision == Decision::kIssued);
  // Another bootstrap certificate, same device id: both paths refuse, nothing is written.
  CHECK(IssueOrDie(*store, EnrollCertificate(2, 2, "device-a", kOtherBootstrap)).decision ==
          Decision::kDeviceEnrolled);
  auto reserved = store->Reserve(EnrollIntent(3, 3, "device-a", kOtherBootstrap), IssuancePolicy{});
  REQUIRE(reserved.has_value());
  CHECK(reserved->decision == Decision::kDeviceEnrolled);
  CHECK(Count(path, "issuance_intents") == 0);
  // A pending intent for the device counts too, and a quota of 2 leaves room for one more.
  auto pending = store->Reserve(EnrollIntent(4, 4, "device-a", kOtherBootstrap),
                                IssuancePolicy{.max_per_bootstrap = 2});
  REQUIRE(pending.has_value());
  CHECK(pending->decision == Decision::kReserved);
  CHECK(IssueOrDie(*store, EnrollCertificate(5, 5, "device-a", HashHex(3, 'c')), 2).decision ==
        Decision::kDeviceEnrolled);
  // A scope-qualified id is another device; renewals are not counted.
  CHECK(IssueOrDie(*store, EnrollCertificate(6, 6, "0123456789abcdef:device-a", kOtherBootstrap),
                   2)
            .decision == Decision::kIssued);
  // (authenticated by the device's certificate, as a renewal is)
  CertificateRecord renewal = EnrollCertificate(7, 7, "device-a", first.fingerprint_sha256);
  renewal.kind = "reenroll";
  renewal.auth_cert_serial = first.serial_hex;
  CHECK(IssueOrDie(*store, renewal).decision == Decision::kIssued);
}

TEST_CASE("kKeyReuse: a key in another device's certificate is refused before anything else") {
  TempDir dir;
  std::string path = dir.File("store.db");
  auto store = OpenOrDie(path);
  CertificateRecord owner = EnrollCertificate(1, 1, "device-a", kBootstrap);
  REQUIRE(IssueOrDie(*store, owner).decision == Decision::kIssued);

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
    REQUIRE(IssueOrDie(*store, current).decision == Decision::kIssued);
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
  CHECK(Count(path, "certificates WHERE public_key_sha256 = '" + HashHex(1) + "'") == 1);
  CHECK(Count(path, kIssuanceEvents) == store->CountCertificates().value());
}

TEST_CASE("the same device may reenroll with its key, repeatedly") {
  TempDir dir;
  auto store = OpenOrDie(dir.File("store.db"));
  CertificateRecord current = EnrollCertificate(1, 1, "device-a", kBootstrap);
  REQUIRE(IssueOrDie(*store, current).decision == Decision::kIssued);
  for (int i = 0; i < 2; ++i) {
    CertificateRecord reenroll = EnrollCertificate(2 + i, 1, "device-a", HashHex(i, 'd'));
    ReenrollWith(reenroll, current);
    CHECK(IssueOrDie(*store, reenroll).decision == Decision::kIssued);
    current = reenroll;
  }
  CHECK(store->CountCertificates().value() == 3);
}

TEST_CASE("IssueUnderPolicy errors: duplicate serial and a mismatched event serial") {
  TempDir dir;
  std::string path = dir.File("store.db");
  auto store = OpenOrDie(path);
  REQUIRE(IssueOrDie(*store, EnrollCertificate(1, 1, "device-a", kBootstrap)).decision ==
          Decision::kIssued);

  CertificateRecord collision = EnrollCertificate(1, 2, "device-b", kOtherBootstrap);
  collision.fingerprint_sha256 = HashHex(7, 'e');
  auto duplicate = store->IssueUnderPolicy(collision, SampleEvent("issued", collision.serial_hex),
                                           IssuancePolicy{});
  REQUIRE_FALSE(duplicate.has_value());
  CHECK(duplicate.error().code == Code::kDuplicateSerial);

  CertificateRecord cert = EnrollCertificate(2, 2, "device-b", kOtherBootstrap);
  auto mismatched =
      store->IssueUnderPolicy(cert, SampleEvent("issued", SerialHex(99)), IssuancePolicy{});
  REQUIRE_FALSE(mismatched.has_value());
  CHECK(mismatched.error().code == Code::kInternal);

  CHECK(store->CountCertificates().value() == 1);
  CHECK(Count(path, kIssuanceEvents) == 1);
}

// 100 threads over two connections (so the race is decided by SQLite's lock, not only by the
// Store's mutex), released together, all presenting the same bootstrap certificate with their
// own key and serial.
void RaceForQuota(int max_per_bootstrap) {
  CAPTURE(max_per_bootstrap);
  TempDir dir;
  std::string path = dir.File("store.db");
  auto store_a = OpenOrDie(path);
  auto store_b = OpenOrDie(path);
  constexpr int kThreads = 100;
  std::latch start(kThreads);
  std::atomic<int> issued{0}, exhausted{0}, other{0}, failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Store& store = t % 2 == 0 ? *store_a : *store_b;
      CertificateRecord cert = EnrollCertificate(100 + t, 100 + t, "device-a", kBootstrap);
      start.arrive_and_wait();
      auto outcome = store.IssueUnderPolicy(cert, SampleEvent("issued", cert.serial_hex),
                                            IssuancePolicy{.max_per_bootstrap = max_per_bootstrap});
      if (!outcome) {
        ++failed;
      } else if (outcome->decision == Decision::kIssued) {
        ++issued;
      } else if (outcome->decision == Decision::kBootstrapExhausted) {
        ++exhausted;
      } else {
        ++other;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  CHECK(failed.load() == 0);
  CHECK(other.load() == 0);
  CHECK(issued.load() == max_per_bootstrap);
  CHECK(exhausted.load() == kThreads - max_per_bootstrap);
  CHECK(Count(path, "certificates") == max_per_bootstrap);
  CHECK(Count(path, kIssuanceEvents) == max_per_bootstrap);
  CHECK(store_a->VerifyAuditChain().value().ok);
}

TEST_CASE("100 simultaneous enrollments with one bootstrap certificate: exactly the quota") {
  RaceForQuota(1);
  RaceForQuota(3);
}

}  // namespace
}  // namespace db::testing
