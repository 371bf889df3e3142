// rebootstrap_test.cc — a factory-reset device under a re-bootstrap grant, as the authority
// answers it (daemon/authority/issuance.cc): refused before the grant, issued once with a new
// key, then refused as spent; an expired grant and an old key each with their own code.
#include <doctest/doctest.h>

#include "daemon/authority/enrollment.h"
#include "tests/daemon/authority/bench.h"
#include "tests/db/admin_writes.h"

using namespace authoritytest;

namespace {

// A grant for `d` from now for `seconds`.
void GrantFor(Bench& b, const Device& d, base::UnixTime seconds, bool revoke_previous = false) {
  const base::UnixTime now = b.time.Now();
  auto granted = db::testing::GrantAsAdmin(*b.store, {.device_id = d.id,
                                                      .reason = "factory reset",
                                                      .granted_at = ca::Iso8601(now),
                                                      .expires_at = ca::Iso8601(now + seconds),
                                                      .revoke_previous = revoke_previous});
  REQUIRE_MESSAGE(granted.has_value(), (granted ? "" : granted.error().detail));
  REQUIRE(granted->has_value());
}

// The device loses its operational key: its next CSR carries a fresh one.
void FactoryReset(Bench& b, Device& d) { d.key = catest::NewP256(b.drbg->rng()); }

}  // namespace

TEST_CASE("rebootstrap: refused before the grant, issued once under it, then spent") {
  Bench b;
  b.Start();
  Device d = b.NewDevice();
  EnrollResult first = Expect(b, b.Request(d), EnrollCode::kIssued);
  FactoryReset(b, d);
  Expect(b, b.Request(d), EnrollCode::kBootstrapExhausted);
  GrantFor(b, d, 3600, /*revoke_previous=*/true);
  EnrollResult second = Expect(b, b.Request(d), EnrollCode::kIssued);
  CHECK(second.serial_hex != first.serial_hex);
  CHECK(b.reader->CertificateStatus(first.serial_hex).value() == db::CertStatus::kRevoked);
  Expect(b, b.Request(d), EnrollCode::kAlreadyIssued);  // the same key again: a retry
  FactoryReset(b, d);
  Expect(b, b.Request(d), EnrollCode::kRebootstrapGrantSpent);
  CHECK(b.Rows("certificates") == 2);
}

TEST_CASE("rebootstrap: an expired grant and an old key are refused with their own codes") {
  Bench b;
  b.Start();
  Device d = b.NewDevice();
  Expect(b, b.Request(d), EnrollCode::kIssued);
  auto old_key = std::move(d.key);
  FactoryReset(b, d);
  GrantFor(b, d, 60);
  b.time.Advance(61);
  Expect(b, b.Request(d), EnrollCode::kRebootstrapGrantExpired);
  GrantFor(b, d, 3600);
  // The old key, its certificate revoked: certified for this device before, so not "new".
  auto first = b.reader->FindByDevice(d.id).value();
  REQUIRE(first.size() == 1);
  REQUIRE(b.store->RevokeSerial(first[0].serial_hex, 1, ca::Iso8601(b.time.Now())).value() == 1);
  std::swap(d.key, old_key);
  Expect(b, b.Request(d), EnrollCode::kRebootstrapKeyNotNew);
  std::swap(d.key, old_key);
  Expect(b, b.Request(d), EnrollCode::kIssued);
  CHECK(b.Rows("certificates") == 2);
}
