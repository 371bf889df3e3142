// revocation_count_test.cc — tests Store::RevocationCount (db/sql_store.cc), the value the CRL
// service polls, per backend: every revocation raises it, nothing else does.
#include <doctest/doctest.h>

#include "db/store.h"
#include "tests/db/backend.h"

namespace db::testing {
namespace {

constexpr const char* kRevokedAt = "2026-09-01T00:00:00Z";
const std::string kBootstrapFp = HashHex(77, 'b');

TEST_CASE_TEMPLATE("RevocationCount counts revoked certificates and intents", Backend,
                   PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = Backend::Open(dir);
  CHECK(store->RevocationCount().value() == 0);
  for (int i = 1; i <= 3; ++i) {
    CertificateRecord cert = SampleCertificate(SerialHex(i), "device-a");
    cert.public_key_sha256 = HashHex(i);
    cert.not_after = i == 3 ? "2020-01-01T00:00:00Z" : "2099-01-01T00:00:00Z";  // 3 is expired
    Issue(*store, cert);
  }
  CHECK(store->RevocationCount().value() == 0);  // issuing is not revoking

  REQUIRE(store->RevokeSerial(SerialHex(1), 1, kRevokedAt).value() == 1);
  CHECK(store->RevocationCount().value() == 1);
  // Repeating a revocation changes nothing; an expired certificate's still counts.
  REQUIRE(store->RevokeSerial(SerialHex(1), 4, kRevokedAt).value() == 0);
  CHECK(store->RevocationCount().value() == 1);
  REQUIRE(store->RevokeSerial(SerialHex(3), 1, kRevokedAt).value() == 1);
  CHECK(store->RevocationCount().value() == 2);

  // A pending intent revoked (another process's revoke while it was being signed).
  Intent intent = EnrollIntent(9, 9, "device-b", kBootstrapFp);
  ReserveOrDie(*store, intent);
  CHECK(store->RevocationCount().value() == 2);
  REQUIRE(store->RevokeDevice("device-b", 0, kRevokedAt).value() == 1);
  CHECK(store->RevocationCount().value() == 3);
  CHECK(store->RevokedUnexpired("2026-01-01T00:00:00Z").value().size() == 2);  // 1 and the intent
}

}  // namespace
}  // namespace db::testing
