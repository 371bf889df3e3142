// rebootstrap_test.cc — re-bootstrap grants (db/sql_rebootstrap.cc, Store::Reserve's check 4r and
// Complete's revoke-previous): granted, spent once, expired, spent, a key that is not new, and a
// race of many connections under one grant. Every case runs per backend (tests/db/backend.h).
#include <doctest/doctest.h>

#include <future>
#include <latch>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "db/store.h"
#include "tests/db/admin_writes.h"
#include "tests/db/backend.h"

namespace db::testing {
namespace {

const std::string kBootstrap = HashHex(1, 'c');
const std::string kDevice = "device-reset";
// SampleCertificate's times: the first enrollment is issued (and its intent created) at this time.
constexpr const char* kIssuedAt = "2026-08-29T07:50:28Z";

RebootstrapGrant Grant(const std::string& expires_at, bool revoke_previous = false) {
  return RebootstrapGrant{.device_id = kDevice,
                          .reason = "factory reset \"ticket\" \\ 42",
                          .granted_at = "2026-08-29T07:00:00Z",
                          .expires_at = expires_at,
                          .revoke_previous = revoke_previous};
}

// Stores a grant that must be accepted; returns it with its id.
RebootstrapGrant GrantOrDie(Store& store, const RebootstrapGrant& grant) {
  auto granted = GrantAsAdmin(store, grant);
  REQUIRE_MESSAGE(granted.has_value(), (granted ? "" : granted.error().detail));
  REQUIRE(granted->has_value());
  return **granted;
}

// The device's first enrollment (serial 1, key 1), then its used bootstrap certificate with key
// `key` (serial `serial`): what a factory-reset device sends.
Intent SecondEnrollment(int serial, int key) { return EnrollIntent(serial, key, kDevice, kBootstrap); }

template <typename Backend>
std::unique_ptr<Store> EnrolledStore(const TempDir& dir) {
  auto store = Backend::Open(dir);
  Issue(*store, EnrollCertificate(1, 1, kDevice, kBootstrap));
  return store;
}

TEST_CASE_TEMPLATE("rebootstrap: without a grant a used bootstrap certificate stays refused",
                   Backend, PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = EnrolledStore<Backend>(dir);
  CHECK(ReserveOrDie(*store, SecondEnrollment(2, 2)).decision == Decision::kBootstrapExhausted);
  CHECK(store->ListGrants().value().empty());
}

TEST_CASE_TEMPLATE("rebootstrap: a grant lets one new key through, then is spent", Backend,
                   PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = EnrolledStore<Backend>(dir);
  const RebootstrapGrant grant = GrantOrDie(*store, Grant("2026-08-30T07:00:00Z"));
  CHECK(grant.id > 0);
  // A second open grant for the same device is refused, nothing written.
  CHECK_FALSE(GrantAsAdmin(*store, Grant("2026-08-31T07:00:00Z")).value().has_value());

  Intent second = SecondEnrollment(2, 2);
  REQUIRE(ReserveOrDie(*store, second).decision == Decision::kReserved);
  auto grants = store->ListGrants().value();
  REQUIRE(grants.size() == 1);
  CHECK(grants[0].spent_serial == second.serial_hex);
  CHECK(grants[0].spent_at == std::optional<std::string>(kIssuedAt));
  CompleteOrDie(*store, second);
  // The old certificate stays active without --revoke-previous.
  CHECK(store->CertificateStatus(SerialHex(1)).value() == CertStatus::kActive);
  // The same key again: its certificate (a retry), not a refusal.
  CHECK(ReserveOrDie(*store, SecondEnrollment(3, 2)).decision == Decision::kAlreadyIssued);
  // Another new key: the grant is spent.
  CHECK(ReserveOrDie(*store, SecondEnrollment(4, 4)).decision == Decision::kRebootstrapGrantSpent);
  CHECK(store->CountCertificates().value() == 2);
  auto report = store->VerifyAuditChain().value();
  CHECK_MESSAGE(report.ok, report.problem);
}

TEST_CASE_TEMPLATE("rebootstrap: a first enrollment left pending can be granted a new key",
                   Backend, PROVISIOND_DB_BACKENDS) {
  // Reserved, never completed (the signature or the commit failed after Reserve): the pending
  // intent fills the quota, and a device that cannot resume it (serverkeygen: its retry is a new
  // key) is refused until a grant lets the new key through; revoke-previous revokes the intent.
  TempDir dir;
  auto store = Backend::Open(dir);
  REQUIRE(ReserveOrDie(*store, SecondEnrollment(1, 1)).decision == Decision::kReserved);
  CHECK(ReserveOrDie(*store, SecondEnrollment(2, 2)).decision == Decision::kBootstrapExhausted);
  GrantOrDie(*store, Grant("2026-08-30T07:00:00Z", /*revoke_previous=*/true));
  Intent fresh = SecondEnrollment(3, 3);
  REQUIRE(ReserveOrDie(*store, fresh).decision == Decision::kReserved);
  CompleteOrDie(*store, fresh);
  CHECK(store->CertificateStatus(fresh.serial_hex).value() == CertStatus::kActive);
  CHECK(store->PendingIntents().value().size() == 1);  // the stranded one, now revoked
  CHECK(store->PendingIntents().value()[0].revoked_at.has_value());
  auto report = store->VerifyAuditChain().value();
  CHECK_MESSAGE(report.ok, report.problem);
}

TEST_CASE_TEMPLATE("rebootstrap: under a quota above 1 the grant is spent all the same",
                   Backend, PROVISIOND_DB_BACKENDS) {
  // --bootstrap-max-enrollments 2: the reset device's new key is within the quota, but the
  // operator's grant must still be spent and its revoke-previous applied, not left open.
  TempDir dir;
  auto store = EnrolledStore<Backend>(dir);
  GrantOrDie(*store, Grant("2026-08-30T07:00:00Z", /*revoke_previous=*/true));
  Intent second = SecondEnrollment(2, 2);
  REQUIRE(ReserveOrDie(*store, second, /*max_per_bootstrap=*/2).decision == Decision::kReserved);
  CHECK(store->ListGrants().value()[0].spent_serial == second.serial_hex);
  CompleteOrDie(*store, second);
  CHECK(store->CertificateStatus(SerialHex(1)).value() == CertStatus::kRevoked);
  auto report = store->VerifyAuditChain().value();
  CHECK_MESSAGE(report.ok, report.problem);
}

TEST_CASE_TEMPLATE("rebootstrap: an expired grant is refused with its own decision", Backend,
                   PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = EnrolledStore<Backend>(dir);
  GrantOrDie(*store, Grant("2026-08-29T07:50:28Z"));  // expires the moment the device asks
  CHECK(ReserveOrDie(*store, SecondEnrollment(2, 2)).decision ==
        Decision::kRebootstrapGrantExpired);
  CHECK_FALSE(store->ListGrants().value()[0].spent_at.has_value());
  // A new grant after the expired one can be given and used.
  RebootstrapGrant renewed = Grant("2026-08-30T07:00:00Z");
  renewed.granted_at = kIssuedAt;  // the first one is no longer open then
  GrantOrDie(*store, renewed);
  CHECK(ReserveOrDie(*store, SecondEnrollment(3, 3)).decision == Decision::kReserved);
}

TEST_CASE_TEMPLATE("rebootstrap: a key certified for the device before is not new", Backend,
                   PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = EnrolledStore<Backend>(dir);
  // The old key, its certificate revoked (so check 2 does not answer kAlreadyIssued).
  REQUIRE(store->RevokeSerial(SerialHex(1), 1, "2026-08-29T07:10:00Z").value() == 1);
  GrantOrDie(*store, Grant("2026-08-30T07:00:00Z"));
  CHECK(ReserveOrDie(*store, SecondEnrollment(2, 1)).decision == Decision::kRebootstrapKeyNotNew);
  CHECK_FALSE(store->ListGrants().value()[0].spent_at.has_value());  // still open
  CHECK(ReserveOrDie(*store, SecondEnrollment(3, 3)).decision == Decision::kReserved);
}

TEST_CASE_TEMPLATE("rebootstrap: another bootstrap certificate naming the device gets no grant",
                   Backend, PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = EnrolledStore<Backend>(dir);
  GrantOrDie(*store, Grant("2026-08-30T07:00:00Z"));
  Intent twin = EnrollIntent(2, 2, kDevice, HashHex(2, 'c'));
  CHECK(ReserveOrDie(*store, twin).decision == Decision::kDeviceEnrolled);
  CHECK_FALSE(store->ListGrants().value()[0].spent_at.has_value());
}

TEST_CASE_TEMPLATE("rebootstrap: --revoke-previous revokes the old certificates at Complete",
                   Backend, PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = EnrolledStore<Backend>(dir);
  CertificateRecord renewed = EnrollCertificate(5, 5, kDevice, kBootstrap);
  ReenrollWith(renewed, store->FindBySerial(SerialHex(1)).value().value());
  Issue(*store, renewed);
  GrantOrDie(*store, Grant("2026-08-30T07:00:00Z", /*revoke_previous=*/true));
  Intent second = SecondEnrollment(2, 2);
  REQUIRE(ReserveOrDie(*store, second).decision == Decision::kReserved);
  // Reserved, not yet issued: nothing is revoked before the new certificate exists.
  CHECK(store->CertificateStatus(SerialHex(1)).value() == CertStatus::kActive);
  CHECK(store->CertificateStatus(renewed.serial_hex).value() == CertStatus::kActive);
  CompleteOrDie(*store, second);
  for (const std::string& old : {SerialHex(1), renewed.serial_hex}) {
    auto row = store->FindBySerial(old).value();
    REQUIRE(row.has_value());
    CHECK(row->revoked_at == std::optional<std::string>(kIssuedAt));
    CHECK(row->revocation_reason == std::optional<int>(4));  // superseded
  }
  CHECK(store->CertificateStatus(second.serial_hex).value() == CertStatus::kActive);
  auto report = store->VerifyAuditChain().value();
  CHECK_MESSAGE(report.ok, report.problem);
}

TEST_CASE_TEMPLATE("rebootstrap: bad grants are refused", Backend, PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = Backend::Open(dir);
  RebootstrapGrant empty_reason = Grant("2026-08-30T07:00:00Z");
  empty_reason.reason.clear();
  CHECK(GrantAsAdmin(*store, empty_reason).error().code == Code::kConstraint);
  CHECK(GrantAsAdmin(*store, Grant("2026-08-29T06:00:00Z")).error().code == Code::kConstraint);
  CHECK(GrantAsAdmin(*store, Grant("tomorrow")).error().code == Code::kConstraint);
  CHECK(store->ListGrants().value().empty());
}

// One request as the daemon makes it: Reserve through a queue, and on kReserved Complete.
template <typename Queue>
Decision ReserveThenComplete(Queue& queue, const Intent& intent) {
  std::promise<Result<IssueOutcome>> reserved;
  auto reserved_future = reserved.get_future();
  REQUIRE(queue.SubmitReserve(intent, IssuancePolicy{},
                              [&](Result<IssueOutcome> r) { reserved.set_value(r); }));
  Result<IssueOutcome> outcome = reserved_future.get();
  REQUIRE_MESSAGE(outcome.has_value(), (outcome ? "" : outcome.error().detail));
  if (outcome->decision != Decision::kReserved) return outcome->decision;
  std::promise<Result<void>> completed;
  auto completed_future = completed.get_future();
  const CertificateRecord cert = CertificateFor(intent);
  REQUIRE(queue.SubmitComplete(cert, SampleEvent("issued", cert.serial_hex),
                               [&](Result<void> r) { completed.set_value(r); }));
  Result<void> done = completed_future.get();
  REQUIRE_MESSAGE(done.has_value(), (done ? "" : done.error().detail));
  return outcome->decision;
}

TEST_CASE_TEMPLATE("rebootstrap: 60 racing enrollments with new keys under one grant: one wins",
                   Backend, PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = EnrolledStore<Backend>(dir);
  GrantOrDie(*store, Grant("2026-08-30T07:00:00Z", /*revoke_previous=*/true));
  // Three stores on the same data (three processes or replicas), each with its own group-commit
  // queue, plus one-shot Reserves on a fourth connection.
  auto a = Backend::Open(dir), b = Backend::Open(dir), c = Backend::Open(dir), d = Backend::Open(dir);
  constexpr int kThreads = 60;
  std::vector<Decision> decisions(kThreads);
  {
    auto qa = Backend::StartQueue(*a), qb = Backend::StartQueue(*b), qc = Backend::StartQueue(*c);
    std::latch start(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        const Intent intent = SecondEnrollment(100 + t, 100 + t);
        start.arrive_and_wait();
        if (t % 4 == 3) {
          decisions[t] = ReserveOrDie(*d, intent).decision;
          if (decisions[t] == Decision::kReserved) CompleteOrDie(*d, intent);
          return;
        }
        decisions[t] = ReserveThenComplete(t % 4 == 0 ? *qa : t % 4 == 1 ? *qb : *qc, intent);
      });
    }
    for (std::thread& thread : threads) thread.join();
  }
  int reserved = 0, spent = 0;
  for (Decision decision : decisions) {
    reserved += decision == Decision::kReserved ? 1 : 0;
    spent += decision == Decision::kRebootstrapGrantSpent ? 1 : 0;
  }
  CHECK(reserved == 1);
  CHECK(spent == kThreads - 1);
  CHECK(store->CountCertificates().value() == 2);
  CHECK(store->CertificateStatus(SerialHex(1)).value() == CertStatus::kRevoked);
  CHECK(store->PendingIntents().value().empty());
  auto report = store->VerifyAuditChain().value();
  CHECK_MESSAGE(report.ok, report.problem);
}

}  // namespace
}  // namespace db::testing
