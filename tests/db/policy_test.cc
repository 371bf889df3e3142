// policy_test.cc — tests the issuance policy (db/policy.cc) through the one write path, Reserve +
// Complete: each Decision with its exact preconditions, and that concurrent requests through
// db::Writers (as the daemon sends them) cannot exceed the quota or issue one key twice.
#include <doctest/doctest.h>

#include <atomic>
#include <future>
#include <latch>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "db/store.h"
#include "db/writer.h"
#include "tests/db/sqlite_fixture.h"

namespace db::testing {
namespace {

const std::string kBootstrap = HashHex(1, 'c');
const std::string kOtherBootstrap = HashHex(2, 'c');

// Reserve + Complete (sqlite_fixture.h): kReserved means the certificate is committed.
IssueOutcome IssueOrDie(Store& store, const CertificateRecord& cert, int max_per_bootstrap = 1) {
  auto outcome = ReserveAndComplete(store, cert, SampleEvent("issued", cert.serial_hex),
                                    IssuancePolicy{.max_per_bootstrap = max_per_bootstrap});
  REQUIRE_MESSAGE(outcome.has_value(), (outcome ? "" : outcome.error().detail));
  return *outcome;
}

// Events other than the state events revocations and intents add (db/audit_state.h).
constexpr const char* kIssuanceEvents = "enrollment_events WHERE endpoint <> 'state'";

int64_t Count(const std::string& path, const std::string& table) {
  return QueryRawInt(OpenRaw(path).get(), "SELECT count(*) FROM " + table);
}

TEST_CASE("kReserved, then Complete, inserts the certificate and its issued event") {
  TempDir dir;
  std::string path = dir.File("store.db");
  auto store = OpenOrDie(path);
  CertificateRecord cert = EnrollCertificate(1, 1, "device-a", kBootstrap);
  IssueOutcome outcome = IssueOrDie(*store, cert);
  CHECK(outcome.decision == Decision::kReserved);
  CHECK_FALSE(outcome.existing.has_value());

  auto found = store->FindBySerial(cert.serial_hex);
  REQUIRE(found.has_value());
  REQUIRE(found->has_value());
  CHECK((*found)->public_key_sha256 == cert.public_key_sha256);
  CHECK(store->PendingIntents().value().empty());
  CHECK(Count(path, kIssuanceEvents) == 1);
  CHECK(QueryRaw(OpenRaw(path).get(), std::string("SELECT serial FROM ") + kIssuanceEvents +
                                          " AND outcome = 'issued'") == cert.serial_hex);
}

TEST_CASE("kAlreadyIssued: a same-key retry returns the newest such row and inserts nothing") {
  TempDir dir;
  std::string path = dir.File("store.db");
  auto store = OpenOrDie(path);
  CertificateRecord first = EnrollCertificate(1, 1, "device-a", kBootstrap);
  REQUIRE(IssueOrDie(*store, first).decision == Decision::kReserved);

  CertificateRecord retry = EnrollCertificate(2, 1, "device-a", kBootstrap);
  int64_t hand_written = 0;  // certificate rows without an event (the last subcase)
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
    // Reserve never lets a second same-key row in (it answers kAlreadyIssued), so the second row
    // is copied from the first by hand, as a database from before that check could hold it.
    CertificateRecord second = EnrollCertificate(3, 1, "device-a", kBootstrap);
    RawDb raw = OpenRaw(path);
    ExecRaw(raw.get(), "CREATE TEMP TABLE copy AS SELECT * FROM certificates");  // first's row
    ExecRaw(raw.get(), "UPDATE copy SET id = id + 1, serial = '" + second.serial_hex +
                           "', fingerprint_sha256 = '" + HashHex(3, 'f') + "'");
    ExecRaw(raw.get(), "INSERT INTO certificates SELECT * FROM copy");
    hand_written = 1;
    IssueOutcome outcome = IssueOrDie(*store, retry, 5);
    CHECK(outcome.decision == Decision::kAlreadyIssued);
    REQUIRE(outcome.existing.has_value());
    CHECK(outcome.existing->serial_hex == second.serial_hex);
  }
  CHECK(store->FindBySerial(retry.serial_hex).value() == std::nullopt);
  CHECK(Count(path, "issuance_intents WHERE serial = '" + retry.serial_hex + "'") == 0);
  CHECK(Count(path, kIssuanceEvents) + hand_written == Count(path, "certificates"));
}

TEST_CASE("a revoked same-key row is no retry: the quota decides") {
  TempDir dir;
  std::string path = dir.File("store.db");
  auto store = OpenOrDie(path);
  CertificateRecord first = EnrollCertificate(1, 1, "device-a", kBootstrap);
  REQUIRE(IssueOrDie(*store, first).decision == Decision::kReserved);
  REQUIRE(store->RevokeSerial(first.serial_hex, 1, "2026-09-01T00:00:00Z").value() == 1);

  CertificateRecord retry = EnrollCertificate(2, 1, "device-a", kBootstrap);
  IssueOutcome exhausted = IssueOrDie(*store, retry, 1);
  CHECK(exhausted.decision == Decision::kBootstrapExhausted);
  CHECK_FALSE(exhausted.existing.has_value());
  CHECK(IssueOrDie(*store, retry, 2).decision == Decision::kReserved);
}

TEST_CASE("kBootstrapExhausted counts kind='enroll' rows of this bootstrap certificate only") {
  TempDir dir;
  std::string path = dir.File("store.db");
  auto store = OpenOrDie(path);
  REQUIRE(IssueOrDie(*store, EnrollCertificate(1, 1, "device-a", kBootstrap), 2).decision ==
          Decision::kReserved);
  REQUIRE(IssueOrDie(*store, EnrollCertificate(2, 2, "device-a", kBootstrap), 2).decision ==
          Decision::kReserved);
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
        Decision::kReserved);

  // Reenrollments authenticated by the same fingerprint are not enrollments and do not count,
  // and reenrollment has no quota.
  TempDir dir2;
  auto fresh = OpenOrDie(dir2.File("store.db"));
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
TEST_CASE("kDeviceEnrolled: one device id's enrollments count whichever bootstrap certificate") {
  TempDir dir;
  std::string path = dir.File("store.db");
  auto store = OpenOrDie(path);
  const CertificateRecord first = EnrollCertificate(1, 1, "device-a", kBootstrap);
  REQUIRE(IssueOrDie(*store, first).decision == Decision::kReserved);
  // Another bootstrap certificate, same device id: refused, nothing is written.
  CHECK(IssueOrDie(*store, EnrollCertificate(2, 2, "device-a", kOtherBootstrap)).decision ==
          Decision::kDeviceEnrolled);
  auto reserved = store->Reserve(EnrollIntent(3, 3, "device-a", kOtherBootstrap), IssuancePolicy{});
  REQUIRE(reserved.has_value());
  CHECK(reserved->decision == Decision::kDeviceEnrolled);
  CHECK(Count(path, "issuance_intents WHERE status = 'pending'") == 0);
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

TEST_CASE("kKeyReuse: a key in another device's certificate is refused before anything else") {
  TempDir dir;
  std::string path = dir.File("store.db");
  auto store = OpenOrDie(path);
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
  CHECK(Count(path, "certificates WHERE public_key_sha256 = '" + HashHex(1) + "'") == 1);
  CHECK(Count(path, kIssuanceEvents) == store->CountCertificates().value());
}

TEST_CASE("the same device may reenroll with its key, repeatedly") {
  TempDir dir;
  auto store = OpenOrDie(dir.File("store.db"));
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

TEST_CASE("Reserve + Complete errors: duplicate serial and a mismatched event serial") {
  TempDir dir;
  std::string path = dir.File("store.db");
  auto store = OpenOrDie(path);
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
  CHECK(Count(path, kIssuanceEvents) == 1);
  // The mismatched Complete wrote nothing: its intent is still pending, to be completed or revoked.
  REQUIRE(store->PendingIntents().value().size() == 1);
  CHECK(store->PendingIntents().value().front().serial_hex == cert.serial_hex);
}

// What one racing request ends with.
struct RaceResult {
  Result<IssueOutcome> reserved;
  std::optional<Result<void>> completed;  // set when the Reserve answered kReserved
};

// One request as the daemon makes it: Reserve through the writer, wait for its commit, and on
// kReserved Complete (also through the writer) and wait again.
RaceResult ReserveThenComplete(Writer& writer, const CertificateRecord& cert,
                               int max_per_bootstrap) {
  std::promise<Result<IssueOutcome>> reserve_promise;
  auto reserve_future = reserve_promise.get_future();
  REQUIRE(writer.SubmitReserve(IntentFor(cert),
                               IssuancePolicy{.max_per_bootstrap = max_per_bootstrap},
                               [&](Result<IssueOutcome> r) { reserve_promise.set_value(r); }));
  RaceResult result{reserve_future.get(), std::nullopt};
  if (!result.reserved || result.reserved->decision != Decision::kReserved) return result;
  std::promise<Result<void>> complete_promise;
  auto complete_future = complete_promise.get_future();
  REQUIRE(writer.SubmitComplete(cert, SampleEvent("issued", cert.serial_hex),
                                [&](Result<void> r) { complete_promise.set_value(r); }));
  result.completed = complete_future.get();
  return result;
}

// 100 threads over two stores on one file, each with its db::Writer (so the race is decided by
// SQLite's write lock, not by one writer thread's order), released together; make(t) is thread
// t's certificate. Returns each thread's result.
template <typename Make>
std::vector<RaceResult> Race(const std::string& path, int max_per_bootstrap, Make make) {
  auto store_a = OpenOrDie(path);
  auto store_b = OpenOrDie(path);
  constexpr int kThreads = 100;
  std::vector<std::optional<RaceResult>> results(kThreads);
  {
    Writer writer_a(*store_a), writer_b(*store_b);
    std::latch start(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        CertificateRecord cert = make(t);
        start.arrive_and_wait();
        results[t] = ReserveThenComplete(t % 2 == 0 ? writer_a : writer_b, cert, max_per_bootstrap);
      });
    }
    for (std::thread& thread : threads) thread.join();
  }
  CHECK(store_a->VerifyAuditChain().value().ok);
  std::vector<RaceResult> out;
  for (auto& result : results) out.push_back(std::move(*result));
  return out;
}

// Every thread presents the same bootstrap certificate with its own key and serial.
void RaceForQuota(int max_per_bootstrap) {
  CAPTURE(max_per_bootstrap);
  TempDir dir;
  std::string path = dir.File("store.db");
  auto results = Race(path, max_per_bootstrap, [](int t) {
    return EnrollCertificate(100 + t, 100 + t, "device-" + std::to_string(t), kBootstrap);
  });
  int reserved = 0, exhausted = 0, other = 0, failed = 0;
  for (const RaceResult& result : results) {
    if (!result.reserved || (result.completed && !*result.completed)) {
      ++failed;
    } else if (result.reserved->decision == Decision::kReserved) {
      ++reserved;
    } else if (result.reserved->decision == Decision::kBootstrapExhausted) {
      ++exhausted;
    } else {
      ++other;
    }
  }
  CHECK(failed == 0);
  CHECK(other == 0);
  CHECK(reserved == max_per_bootstrap);
  CHECK(exhausted == 100 - max_per_bootstrap);
  CHECK(Count(path, "certificates") == max_per_bootstrap);
  CHECK(Count(path, "issuance_intents WHERE status = 'issued'") == max_per_bootstrap);
  CHECK(Count(path, "issuance_intents") == max_per_bootstrap);
  CHECK(Count(path, kIssuanceEvents) == max_per_bootstrap);
}

TEST_CASE("100 simultaneous enrollments with one bootstrap certificate: exactly the quota") {
  RaceForQuota(1);
  RaceForQuota(3);
}

// Issue #13: the race production runs. 100 retries of one enrollment (one bootstrap certificate,
// one device, one key, each with its own serial) through two writers: exactly one is reserved;
// the others resume that intent while it is pending or get its certificate once it is complete;
// no serial is issued twice.
TEST_CASE("100 simultaneous same-key enrollments: one kReserved, the rest resume or get it") {
  TempDir dir;
  std::string path = dir.File("store.db");
  auto results =
      Race(path, 1, [](int t) { return EnrollCertificate(100 + t, 1, "device-a", kBootstrap); });
  int reserved = 0, resumed = 0, already = 0, other = 0, failed = 0;
  std::set<std::string> answered_serials;
  for (const RaceResult& result : results) {
    if (!result.reserved || (result.completed && !*result.completed)) {
      ++failed;
      continue;
    }
    const IssueOutcome& outcome = *result.reserved;
    if (outcome.decision == Decision::kReserved) {
      ++reserved;
    } else if (outcome.decision == Decision::kResume) {
      ++resumed;
      answered_serials.insert(outcome.intent->serial_hex);
    } else if (outcome.decision == Decision::kAlreadyIssued) {
      ++already;
      answered_serials.insert(outcome.existing->serial_hex);
    } else {
      ++other;
    }
  }
  CHECK(failed == 0);
  CHECK(other == 0);
  CHECK(reserved == 1);
  CHECK(resumed + already == 99);
  // Every retry was pointed at the one reserved serial, the one certificate.
  REQUIRE(answered_serials.size() == 1);
  CHECK(Count(path, "certificates") == 1);
  CHECK(Count(path, "issuance_intents") == 1);
  CHECK(Count(path,
              "certificates c JOIN issuance_intents i ON i.serial = c.serial "
              "WHERE i.status = 'issued'") == 1);
  CHECK(*answered_serials.begin() ==
        QueryRaw(OpenRaw(path).get(), "SELECT serial FROM certificates"));
}

}  // namespace
}  // namespace db::testing
