// status_test.cc — the status checks Reserve makes inside its transaction
// (issue #12 finding 2): a blocked device, a revoked or unknown authenticating certificate and a
// denylisted bootstrap certificate are refused there, whatever the handshake saw; and blocks.
// Every case runs per backend (backend.h).
#include <doctest/doctest.h>

#include <string>

#include "db/store.h"
#include "tests/db/admin_writes.h"
#include "tests/db/backend.h"

namespace db::testing {
namespace {

const std::string kBootstrap = HashHex(1, 'c');
constexpr const char* kAt = "2026-09-01T00:00:00Z";

Decision ReserveDecision(Store& store, const Intent& intent) {
  auto outcome = store.Reserve(intent, IssuancePolicy{.max_per_bootstrap = 10});
  REQUIRE_MESSAGE(outcome.has_value(), (outcome ? "" : outcome.error().detail));
  return outcome->decision;
}

// A whole issuance (Reserve + Complete, store_fixture.h): kReserved means it was completed.
Decision IssueDecision(Store& store, const CertificateRecord& cert) {
  auto outcome = ReserveAndComplete(store, cert, SampleEvent("issued", cert.serial_hex),
                                    IssuancePolicy{.max_per_bootstrap = 10});
  REQUIRE_MESSAGE(outcome.has_value(), (outcome ? "" : outcome.error().detail));
  return outcome->decision;
}

int64_t PendingCount(Store& store) {
  return static_cast<int64_t>(store.PendingIntents().value().size());
}

// A reenroll of device-a authenticated by its certificate `current`: `intent` reserved alone, and
// `one_phase` (another serial) reserved and completed.
template <typename Backend>
struct Reenroll {
  TempDir dir;
  std::unique_ptr<Store> store = Backend::Open(dir);
  CertificateRecord current = EnrollCertificate(1, 1, "device-a", kBootstrap);
  Intent intent = EnrollIntent(2, 2, "device-a", kBootstrap);
  CertificateRecord one_phase;

  Reenroll() {
    Issue(*store, current);
    ReenrollWith(intent, current);
    one_phase = CertificateFor(intent);
    one_phase.serial_hex = SerialHex(3);
    one_phase.fingerprint_sha256 = HashHex(3, 'e');
  }
};

TEST_CASE_TEMPLATE(
    "a reenroll with an active authenticating certificate is allowed, reserved and completed",
    Backend, PROVISIOND_DB_BACKENDS) {
  Reenroll<Backend> r;
  CHECK(ReserveDecision(*r.store, r.intent) == Decision::kReserved);
  CHECK(IssueDecision(*r.store, r.one_phase) == Decision::kReserved);
}

TEST_CASE_TEMPLATE(
    "kAuthRevoked: a reenroll whose authenticating certificate is revoked or unknown", Backend,
    PROVISIOND_DB_BACKENDS) {
  Reenroll<Backend> r;
  SUBCASE("revoked after the handshake (what a held-open connection does)") {
    REQUIRE(r.store->RevokeDevice("device-a", 1, kAt).value() == 1);
  }
  SUBCASE("a serial that is no certificate's") { r.intent.auth_cert_serial = SerialHex(77); }
  SUBCASE("the serial of ours but another certificate's fingerprint") {
    r.intent.auth_cert_fingerprint = HashHex(9, 'e');
  }
  r.one_phase.auth_cert_serial = r.intent.auth_cert_serial;
  r.one_phase.auth_cert_fingerprint = r.intent.auth_cert_fingerprint;
  CHECK(ReserveDecision(*r.store, r.intent) == Decision::kAuthRevoked);
  CHECK(IssueDecision(*r.store, r.one_phase) == Decision::kAuthRevoked);
  CHECK(PendingCount(*r.store) == 0);
  CHECK(r.store->CountCertificates().value() == 1);
}

TEST_CASE_TEMPLATE(
    "kAuthDenylisted: an enroll whose bootstrap certificate was denylisted after the "
    "handshake",
    Backend, PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = Backend::Open(dir);
  Intent intent = EnrollIntent(1, 1, "device-a", kBootstrap);
  intent.auth_cert_serial = "8f00ab";
  SUBCASE("by fingerprint") {
    REQUIRE(DenyAsAdmin(*store, {.fingerprint = kBootstrap, .reason = "x", .added_at = kAt})
                .has_value());
  }
  SUBCASE("by issuer and serial") {
    REQUIRE(DenyAsAdmin(*store, {.issuer = intent.auth_cert_issuer,
                                 .serial_hex = "8f00ab",
                                 .reason = "x",
                                 .added_at = kAt})
                .has_value());
  }
  CHECK(ReserveDecision(*store, intent) == Decision::kAuthDenylisted);
  CertificateRecord cert = CertificateFor(intent);
  CHECK(IssueDecision(*store, cert) == Decision::kAuthDenylisted);
  CHECK(PendingCount(*store) == 0);
  CHECK(store->CountCertificates().value() == 0);
}

TEST_CASE_TEMPLATE("kDeviceBlocked: a blocked device gets nothing until the block is lifted",
                   Backend, PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = Backend::Open(dir);
  CertificateRecord current = EnrollCertificate(1, 1, "device-a", kBootstrap);
  Issue(*store, current);
  REQUIRE(BlockAsAdmin(*store, "device-a", "stolen", kAt).value());
  CHECK_FALSE(BlockAsAdmin(*store, "device-a", "again", kAt).value());  // one active block
  CHECK(store->IsDeviceBlocked("device-a").value());
  CHECK_FALSE(store->IsDeviceBlocked("device-b").value());

  // Whatever certificate it presents: its unrevoked operational one, or a fresh bootstrap.
  Intent reenroll = EnrollIntent(2, 2, "device-a", kBootstrap);
  ReenrollWith(reenroll, current);
  CHECK(ReserveDecision(*store, reenroll) == Decision::kDeviceBlocked);
  Intent enroll = EnrollIntent(3, 3, "device-a", HashHex(3, 'c'));
  CHECK(ReserveDecision(*store, enroll) == Decision::kDeviceBlocked);
  CHECK(IssueDecision(*store, CertificateFor(enroll)) == Decision::kDeviceBlocked);
  // Even a same-key retry of an issued enrollment (kAlreadyIssued) is refused.
  CHECK(ReserveDecision(*store, EnrollIntent(4, 1, "device-a", kBootstrap)) ==
        Decision::kDeviceBlocked);
  CHECK(PendingCount(*store) == 0);
  // Another device is not affected.
  CHECK(ReserveDecision(*store, EnrollIntent(5, 5, "device-b", HashHex(5, 'c'))) ==
        Decision::kReserved);

  auto blocks = store->ListBlocks(/*active_only=*/true).value();
  REQUIRE(blocks.size() == 1);
  CHECK(blocks[0].device_id == "device-a");
  CHECK(blocks[0].reason == "stolen");
  CHECK(blocks[0].blocked_at == kAt);

  REQUIRE(UnblockAsAdmin(*store, "device-a", "recovered", "2026-09-02T00:00:00Z").value());
  CHECK_FALSE(UnblockAsAdmin(*store, "device-a", "recovered", "2026-09-02T00:00:00Z").value());
  CHECK_FALSE(store->IsDeviceBlocked("device-a").value());
  CHECK(store->ListBlocks(true).value().empty());
  auto history = store->ListBlocks(false).value();
  REQUIRE(history.size() == 1);
  CHECK(history[0].lifted_at == std::optional<std::string>("2026-09-02T00:00:00Z"));
  CHECK(history[0].lift_reason == std::optional<std::string>("recovered"));
  CHECK(ReserveDecision(*store, reenroll) == Decision::kReserved);

  // Blocked again later: a second row; the history keeps both.
  REQUIRE(BlockAsAdmin(*store, "device-a", "stolen again", "2026-09-03T00:00:00Z").value());
  CHECK(store->ListBlocks(false).value().size() == 2);
  auto report = store->VerifyAuditChain().value();
  CHECK_MESSAGE(report.ok, report.problem);
}

TEST_CASE_TEMPLATE("BlockDevice refuses an empty device id or a bad time, writing nothing", Backend,
                   PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = Backend::Open(dir);
  auto empty = BlockAsAdmin(*store, "", "x", kAt);
  REQUIRE_FALSE(empty.has_value());
  CHECK(empty.error().code == Code::kConstraint);
  auto bad_time = BlockAsAdmin(*store, "device-a", "x", "yesterday");
  REQUIRE_FALSE(bad_time.has_value());
  CHECK(bad_time.error().code == Code::kConstraint);
  CHECK(store->ListBlocks(/*active_only=*/false).value().empty());
  CHECK(EventCount(*store) == 0);
}

}  // namespace
}  // namespace db::testing
