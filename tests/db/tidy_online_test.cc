// tidy_online_test.cc — tidy beside a serving daemon on both backends: while one store handle's
// group-commit queue (the daemon's write path) issues certificates, another handle on the same
// data (the `provisiond tidy` process) removes expired certificates and cuts the chain in small
// batches; every issuance succeeds, only the expired rows go, and the chain verifies after.
#include <doctest/doctest.h>

#include <atomic>
#include <future>
#include <string>
#include <thread>

#include "db/store.h"
#include "tests/db/backend.h"

namespace db::testing {
namespace {

constexpr int kExpired = 120;
constexpr int kServed = 60;
constexpr int kBatch = 25;

// Reserve then Complete through the queue, as the daemon does; true when both committed.
template <typename Queue>
bool Enroll(Queue& queue, const CertificateRecord& cert) {
  std::promise<Result<IssueOutcome>> reserved;
  if (!queue.SubmitReserve(IntentFor(cert), AnyQuota(),
                           [&](Result<IssueOutcome> r) { reserved.set_value(r); })) {
    return false;
  }
  auto outcome = reserved.get_future().get();
  if (!outcome || outcome->decision != Decision::kReserved) return false;
  std::promise<Result<void>> completed;
  if (!queue.SubmitComplete(cert, SampleEvent("issued", cert.serial_hex),
                            [&](Result<void> r) { completed.set_value(r); })) {
    return false;
  }
  return completed.get_future().get().has_value();
}

}  // namespace

TEST_CASE_TEMPLATE("tidy runs in batches beside a serving store's issuances", Backend,
                   PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto serving = Backend::Open(dir);
  auto tidy = Backend::Open(dir);
  for (int n = 1; n <= kExpired; ++n) {
    CertificateRecord cert = EnrollCertificate(n, n, "old-" + std::to_string(n), HashHex(n, 'c'));
    cert.not_after = "2020-01-01T00:00:00Z";
    cert.issued_at = "2020-01-01T00:00:00Z";
    Issue(*serving, cert);
  }
  std::atomic<int> issued = 0;
  {
    auto queue = Backend::StartQueue(*serving);
    std::thread daemon([&] {
      for (int n = 1; n <= kServed; ++n) {
        const int id = 1000 + n;
        if (Enroll(*queue, EnrollCertificate(id, id, "new-" + std::to_string(n), HashHex(id, 'c')))) {
          ++issued;
        }
      }
    });
    const TidyBounds bounds{.expired_before = "2025-01-01T00:00:00Z", .revoked_before = {},
                            .tidied_at = "2026-12-07T00:00:00Z"};
    int removed = 0;
    for (;;) {
      auto batch = tidy->TidyCertificates(bounds, kBatch).value();
      if (batch.empty()) break;
      std::vector<std::string> serials;
      for (const auto& c : batch) serials.push_back(c.serial_hex);
      removed += tidy->RemoveCertificates(serials, bounds).value();
    }
    CHECK(removed == kExpired);
    const int64_t head = tidy->VerifyAuditChain().value().rows_checked;
    const int64_t cut = tidy->ChainCut("2021-01-01T00:00:00Z", head).value();
    CHECK(cut > 1);
    REQUIRE(tidy->CarryLiveState(cut, kBatch).has_value());
    while (tidy->TruncateChain(cut, "checkpoint", kBatch).value() > 0) {
    }
    daemon.join();
  }
  CHECK(issued == kServed);
  CHECK(serving->CountCertificates().value() == kServed);
  auto report = serving->VerifyAuditChain();
  REQUIRE(report.has_value());
  CHECK_MESSAGE(report->ok, report->problem);
}

}  // namespace db::testing
