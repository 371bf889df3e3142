// reserve_test.cc — what Reserve decides in the store's transaction, as the authority answers it:
// the same-key retry, key reuse across devices, the use limits, and the status of the device and
// of its bootstrap certificate committed after the checks (daemon/authority/issuance.cc).
#include <doctest/doctest.h>

#include "daemon/authority/enrollment.h"
#include "daemon/authority/status_check.h"
#include "tests/daemon/authority/bench.h"
#include "tests/db/admin_writes.h"

using namespace authoritytest;

namespace {

EnrollResult Issued(Bench& b, const Device& d) {
  EnrollResult r = Expect(b, b.Request(d), EnrollCode::kIssued);
  REQUIRE_FALSE(r.der.empty());
  return r;
}

}  // namespace

TEST_CASE("same-key retry: the certificate already issued, byte for byte, nothing new") {
  Bench b;
  b.Start();
  Device d = b.NewDevice();
  EnrollResult first = Issued(b, d);
  EnrollResult again = Expect(b, b.Request(d), EnrollCode::kAlreadyIssued);  // a new CSR, same key
  CHECK(again.der == first.der);
  CHECK(again.serial_hex == first.serial_hex);
  CHECK(again.device_id == d.id);
  CHECK(b.Rows("certificates") == 1);
  CHECK(b.Rows("issuance_intents") == 0);  // the issued one's row is gone, nothing new
}

TEST_CASE("bootstrap exhausted: the same bootstrap certificate with another key") {
  Bench b;
  b.Start();
  Device d = b.NewDevice();
  Issued(b, d);
  d.key = catest::NewP256(b.drbg->rng());
  EnrollResult r = Expect(b, b.Request(d), EnrollCode::kBootstrapExhausted);
  CHECK(r.der.empty());
  CHECK(b.Rows("certificates") == 1);
  CHECK(b.Rows("issuance_intents") == 0);  // the issued one's row is gone, nothing new
}

TEST_CASE("device enrolled: the same device id with another bootstrap certificate") {
  Bench b;
  b.Start();
  Device d = b.NewDevice("dev-twin");
  Issued(b, d);
  Device twin = b.NewDevice("dev-twin");  // another bootstrap certificate naming the same id
  Expect(b, b.Request(twin), EnrollCode::kDeviceEnrolled);
  CHECK(b.Rows("certificates") == 1);
}

TEST_CASE("key reuse: a key already certified for another device") {
  Bench b;
  b.Start();
  Device d = b.NewDevice();
  Issued(b, d);
  Device other = b.NewDevice();
  EnrollRequest request = b.Request(other);
  request.body = b.Csr(*d.key, other.id);  // other's CSR, d's certified key
  EnrollResult r = Expect(b, request, EnrollCode::kKeyReuse);
  CHECK(r.detail == "key already certified for another device");
  CHECK(b.Rows("issuance_intents") == 0);  // the issued one's row is gone, nothing new
}

TEST_CASE("device blocked by the operator after the checks: refused at Reserve") {
  Bench b;
  b.Start();
  Device d = b.NewDevice();
  REQUIRE(db::testing::BlockAsAdmin(*b.store, d.id, "stolen", "2026-05-01T00:00:00Z").value());
  Expect(b, b.Request(d), EnrollCode::kDeviceBlocked);
  CHECK(b.Rows("issuance_intents") == 0);
  REQUIRE(db::testing::UnblockAsAdmin(*b.store, d.id, "found", "2026-05-01T00:00:01Z").value());
  Issued(b, d);
}

TEST_CASE("bootstrap certificate denylisted: refused at Reserve") {
  Bench b;
  b.Start();
  Device d = b.NewDevice();
  REQUIRE(db::testing::DenyAsAdmin(*b.store, db::DenyEntry{.fingerprint = d.peer.cert->fingerprint,
                                                           .reason = "leaked",
                                                           .added_at = "2026-05-01T00:00:00Z"}));
  Expect(b, b.Request(d), EnrollCode::kAuthDenylisted);
  CHECK(b.Rows("issuance_intents") == 0);
}

TEST_CASE("the request's checks come before Reserve's: a blocked device with a bad CSR") {
  Bench b;
  b.Start();
  Device d = b.NewDevice();
  REQUIRE(db::testing::BlockAsAdmin(*b.store, d.id, "stolen", "2026-05-01T00:00:00Z").value());
  EnrollRequest request = b.Request(d);
  request.body = b.Csr(*d.bootstrap_key, d.id);  // key reuse, decided without the store
  Expect(b, request, EnrollCode::kKeyReuse);
  request.body = b.Csr(*d.key, "dev-somebody-else");
  Expect(b, request, EnrollCode::kBadCsr);
}

TEST_CASE("a status check at the handshake: revoked, unknown, denylisted (StoreStatusCheck)") {
  Bench b;
  b.Start();
  Device d = b.NewDevice();
  StoreStatusCheck check(*b.reader);
  auto refusal = [&](const PresentedCert& leaf, AuthKind kind) {
    StatusVerdict verdict = check.Check(leaf, kind);
    CHECK(verdict.kind != StatusVerdict::Kind::kUnavailable);
    return verdict.kind == StatusVerdict::Kind::kRefuse ? verdict.reason : "";
  };
  CHECK(refusal(*d.peer.cert, AuthKind::kBootstrap).empty());
  EnrollResult r = Issued(b, d);
  PeerIdentity op = Bench::Operational(r.der, d.id);
  CHECK(refusal(*op.cert, AuthKind::kOperational).empty());
  PresentedCert unknown = *op.cert;
  unknown.serial_hex = db::testing::SerialHex(77);
  CHECK(refusal(unknown, AuthKind::kOperational) == "operational certificate not in the store");
  REQUIRE(b.store->RevokeSerial(op.cert->serial_hex, 1, "2026-05-01T00:00:00Z").value() == 1);
  CHECK(refusal(*op.cert, AuthKind::kOperational) == "operational certificate revoked");
  REQUIRE(db::testing::DenyAsAdmin(*b.store, db::DenyEntry{.issuer = d.peer.cert->issuer,
                                                           .serial_hex = d.peer.cert->serial_hex,
                                                           .reason = "leaked",
                                                           .added_at = "2026-05-01T00:00:00Z"}));
  CHECK(refusal(*d.peer.cert, AuthKind::kBootstrap) == "bootstrap certificate denylisted");
}

TEST_CASE("a peer whose handshake status check found the store unavailable: 503, nothing else") {
  Bench b;
  b.Start();
  Device d = b.NewDevice();
  d.peer.status_unavailable = "denylist unavailable: PQexecParams(SELECT ...): server closed";
  EnrollResult r = Expect(b, b.Request(d), EnrollCode::kStoreUnavailable);
  CHECK(r.detail == d.peer.status_unavailable);
  CHECK(r.der.empty());
  CHECK(b.Rows("issuance_intents") == 0);
  CHECK(b.Rows("certificates") == 0);
  // Before anything else: not even a rate-limit token is spent, a bad CSR is not looked at.
  EnrollRequest bad = b.Request(d);
  bad.body = "not base64 at all";
  Expect(b, bad, EnrollCode::kStoreUnavailable);
  d.peer.status_unavailable.clear();
  Issued(b, d);  // the store answers again on a new connection: issued
}
