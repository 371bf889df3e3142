// records_test.cc — what goes into a db::Store comes back: every field of a certificate and an
// event byte-exact, serial collisions, values the store refuses, and concurrent issuances through
// two handles on the same data. Every case runs per backend (backend.h).
#include <doctest/doctest.h>

#include <string>
#include <thread>
#include <vector>

#include "db/store.h"
#include "tests/db/backend.h"

namespace db::testing {
namespace {

TEST_CASE_TEMPLATE("Reserve + Complete then FindBySerial returns every field byte-exact", Backend,
                   PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = Backend::Open(dir);
  CertificateRecord cert = SampleCertificate(SerialHex(42), "'; DROP TABLE certificates; --\"é");
  cert.der.clear();
  for (int b = 0; b < 256; ++b) cert.der.push_back(static_cast<unsigned char>(b));
  CertificateRecord current = SampleCertificate(SerialHex(41));
  Issue(*store, current);
  ReenrollWith(cert, current);  // a reenroll must be authenticated by an unrevoked certificate
  cert.revoked_at = "2026-09-01T00:00:00Z";
  cert.revocation_reason = 4;
  EventRecord event = SampleEvent("issued", cert.serial_hex);
  REQUIRE(ReserveAndComplete(*store, cert, event, AnyQuota()).value().decision ==
          Decision::kReserved);

  auto found = store->FindBySerial(cert.serial_hex);
  REQUIRE(found.has_value());
  REQUIRE(found->has_value());
  CheckSameCertificate(**found, cert);

  auto by_device = store->FindByDevice(cert.device_id);
  REQUIRE(by_device.has_value());
  REQUIRE(by_device->size() == 1);
  CheckSameCertificate(by_device->front(), cert);

  auto events = store->RecentEvents(10);
  REQUIRE(events.has_value());
  REQUIRE(events->size() == 4);  // current's intent and issued events, then cert's
  CheckSameEvent(events->front(), event);

  auto missing = store->FindBySerial(SerialHex(43));
  REQUIRE(missing.has_value());
  CHECK_FALSE(missing->has_value());
  // (How SQLite stores the DER and the hostile device_id: store_test.cc.)
}

TEST_CASE_TEMPLATE("a duplicate serial is kDuplicateSerial and changes nothing", Backend,
                   PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = Backend::Open(dir);
  CertificateRecord first = SampleCertificate(SerialHex(5), "device-a");
  Issue(*store, first);

  CertificateRecord second = SampleCertificate(SerialHex(5), "device-b");
  second.fingerprint_sha256 = std::string(64, 'e');
  second.public_key_sha256 = HashHex(99);  // (first's key would be refused as kKeyReuse first)
  auto recorded =
      ReserveAndComplete(*store, second, SampleEvent("issued", second.serial_hex), AnyQuota());
  REQUIRE_FALSE(recorded.has_value());
  CHECK(recorded.error().code == Code::kDuplicateSerial);

  auto found = store->FindBySerial(first.serial_hex);
  REQUIRE(found.has_value());
  REQUIRE(found->has_value());
  CheckSameCertificate(**found, first);
  CHECK(store->CountCertificates().value() == 1);
  CHECK(store->PendingIntents().value().empty());  // second's Reserve inserted nothing
  CHECK(EventCount(*store) == 2);                  // first's intent and issued events

  SUBCASE("a duplicate fingerprint under a new serial is kConstraint, not a serial collision") {
    CertificateRecord third = SampleCertificate(SerialHex(6));
    third.fingerprint_sha256 = first.fingerprint_sha256;
    auto again =
        ReserveAndComplete(*store, third, SampleEvent("issued", third.serial_hex), AnyQuota());
    REQUIRE_FALSE(again.has_value());  // Reserve passed; Complete's insert was refused
    CHECK(again.error().code == Code::kConstraint);
    CHECK(IssuanceEventCount(*store) == 1);
    CHECK(store->PendingIntents().value().size() == 1);
  }
}

TEST_CASE_TEMPLATE("RecordEvent stores one row and serial is NULL unless issued", Backend,
                   PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = Backend::Open(dir);
  EventRecord rejected = SampleEvent("rejected");
  EventRecord tls_failure = SampleEvent("handshake_failed");
  tls_failure.presented_fingerprint = "";
  tls_failure.http_status = 0;
  tls_failure.endpoint = "tls";
  REQUIRE(store->RecordEvent(rejected).has_value());
  REQUIRE(store->RecordEvent(tls_failure).has_value());

  auto events = store->RecentEvents(10);
  REQUIRE(events.has_value());
  REQUIRE(events->size() == 2);
  CheckSameEvent((*events)[0], tls_failure);  // newest first
  CheckSameEvent((*events)[1], rejected);
  CHECK(store->RecentEvents(1).value().size() == 1);
  CHECK(store->RecentEvents(0).value().empty());

  // An event can only name a certificate that exists (foreign key).
  auto dangling = store->RecordEvent(SampleEvent("issued", SerialHex(99)));
  REQUIRE_FALSE(dangling.has_value());
  CHECK(dangling.error().code == Code::kConstraint);
}

TEST_CASE_TEMPLATE("values the schema forbids are kConstraint", Backend, PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = Backend::Open(dir);
  CertificateRecord cert = SampleCertificate(SerialHex(1));
  SUBCASE("unknown kind") { cert.kind = "renew"; }
  SUBCASE("time not in ISO 8601 UTC") { cert.not_after = "2026-11-27 07:50:28"; }
  SUBCASE("uppercase serial") { cert.serial_hex = "ABCDEF"; }
  SUBCASE("empty DER") { cert.der.clear(); }  // (refused by Complete: the intent has a tbs)
  auto recorded = ReserveAndComplete(*store, cert, SampleEvent("issued"), AnyQuota());
  REQUIRE_FALSE(recorded.has_value());
  CHECK(recorded.error().code == Code::kConstraint);
  CHECK(store->CountCertificates().value_or(-1) == 0);
}

TEST_CASE_TEMPLATE("concurrent issuances from several threads and two connections all land",
                   Backend, PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store_a = Backend::Open(dir);
  auto store_b = Backend::Open(dir);  // a second handle: contention goes through its write lock
  constexpr int kThreads = 6;
  constexpr int kPerThread = 20;
  std::vector<std::vector<Error>> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Store& store = t % 2 == 0 ? *store_a : *store_b;
      for (int i = 0; i < kPerThread; ++i) {
        CertificateRecord cert = SampleCertificate(SerialHex(t * 1000 + i));
        auto recorded =
            ReserveAndComplete(store, cert, SampleEvent("issued", cert.serial_hex), AnyQuota());
        if (!recorded) {
          errors[t].push_back(recorded.error());
        } else if (recorded->decision != Decision::kReserved) {
          errors[t].push_back(Error{Code::kInternal, "refused " + cert.serial_hex});
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  for (const auto& thread_errors : errors) {
    for (const Error& error : thread_errors) FAIL_CHECK(error.detail);
  }
  CHECK(store_a->CountCertificates().value_or(-1) == kThreads * kPerThread);
  // Each issuance: its intent's state event and its issued event.
  CHECK(EventCount(*store_a) == 2 * kThreads * kPerThread);
  // Two connections appended to one hash chain without forking it.
  auto report = store_b->VerifyAuditChain();
  REQUIRE(report.has_value());
  CHECK_MESSAGE(report->ok, report->problem);
  CHECK(report->rows_checked == 2 * kThreads * kPerThread);
}

}  // namespace
}  // namespace db::testing
