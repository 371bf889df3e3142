// race_test.cc — concurrent requests through the write path production runs (Reserve, then
// Complete, each through the backend's group-commit queue, two queues on one store's data): they
// cannot exceed the quota or issue one key twice. Every case runs per backend (backend.h).
#include <doctest/doctest.h>

#include <future>
#include <latch>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "db/store.h"
#include "tests/db/backend.h"

namespace db::testing {
namespace {

const std::string kBootstrap = HashHex(1, 'c');

// What one racing request ends with.
struct RaceResult {
  Result<IssueOutcome> reserved;
  std::optional<Result<void>> completed;  // set when the Reserve answered kReserved
};

// One request as the daemon makes it: Reserve through the writer, wait for its commit, and on
// kReserved Complete (also through the writer) and wait again.
template <typename Queue>
RaceResult ReserveThenComplete(Queue& writer, const CertificateRecord& cert,
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

// 100 threads over two stores on the same data, each with its group-commit queue (so the race is
// decided by the backend's write lock, not by one writer thread's order), released together;
// make(t) is thread t's certificate. Returns each thread's result.
template <typename Backend, typename Make>
std::vector<RaceResult> Race(const TempDir& dir, int max_per_bootstrap, Make make) {
  auto store_a = Backend::Open(dir);
  auto store_b = Backend::Open(dir);
  constexpr int kThreads = 100;
  std::vector<std::optional<RaceResult>> results(kThreads);
  {
    auto queue_a = Backend::StartQueue(*store_a);
    auto queue_b = Backend::StartQueue(*store_b);
    std::latch start(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        CertificateRecord cert = make(t);
        start.arrive_and_wait();
        results[t] = ReserveThenComplete(t % 2 == 0 ? *queue_a : *queue_b, cert, max_per_bootstrap);
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
template <typename Backend>
void RaceForQuota(int max_per_bootstrap) {
  CAPTURE(max_per_bootstrap);
  TempDir dir;
  auto results = Race<Backend>(dir, max_per_bootstrap, [](int t) {
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
  auto store = Backend::Open(dir);
  CHECK(store->CountCertificates().value() == max_per_bootstrap);
  CHECK(store->PendingIntents().value().empty());  // every intent reserved was completed
  CHECK(IssuanceEventCount(*store) == max_per_bootstrap);
}

TEST_CASE_TEMPLATE("100 simultaneous enrollments with one bootstrap certificate: exactly the quota",
                   Backend, PROVISIOND_DB_BACKENDS) {
  RaceForQuota<Backend>(1);
  RaceForQuota<Backend>(3);
}

// Issue #13: the race production runs. 100 retries of one enrollment (one bootstrap certificate,
// one device, one key, each with its own serial) through two writers: exactly one is reserved;
// the others resume that intent while it is pending or get its certificate once it is complete;
// no serial is issued twice.
TEST_CASE_TEMPLATE(
    "100 simultaneous same-key enrollments: one kReserved, the rest resume or get it", Backend,
    PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto results = Race<Backend>(
      dir, 1, [](int t) { return EnrollCertificate(100 + t, 1, "device-a", kBootstrap); });
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
  auto store = Backend::Open(dir);
  CHECK(store->CountCertificates().value() == 1);
  CHECK(store->PendingIntents().value().empty());  // the one intent was completed
  auto certificates = store->ListCertificates(ListFilter{}).value();
  REQUIRE(certificates.size() == 1);
  CHECK(*answered_serials.begin() == certificates.front().serial_hex);
}

}  // namespace
}  // namespace db::testing
