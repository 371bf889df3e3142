// lifecycle_test.cc — tests db/lifecycle.cc: revocation and status, the bootstrap denylist, CRL
// support and certificate listing, per backend (backend.h); the active_certificates view (SQLite
// only).
#include <doctest/doctest.h>

#include <set>
#include <thread>
#include <vector>

#include "db/store.h"
#include "tests/db/admin_writes.h"
#include "tests/db/backend.h"
#include "tests/db/sqlite_fixture.h"

namespace db::testing {
namespace {

constexpr const char* kRevokedAt = "2026-09-01T00:00:00Z";

CertificateRecord Cert(int n, const std::string& device_id, const std::string& not_after) {
  CertificateRecord cert = SampleCertificate(SerialHex(n), device_id);
  cert.public_key_sha256 = HashHex(n);
  cert.not_after = not_after;
  return cert;
}

std::vector<std::string> Serials(const Result<std::vector<CertificateRecord>>& certs) {
  REQUIRE_MESSAGE(certs.has_value(), (certs ? "" : certs.error().detail));
  std::vector<std::string> serials;
  for (const CertificateRecord& cert : *certs) serials.push_back(cert.serial_hex);
  return serials;
}

TEST_CASE_TEMPLATE("RevokeSerial and CertificateStatus", Backend, PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = Backend::Open(dir);
  CHECK(store->CertificateStatus(SerialHex(1)).value() == CertStatus::kUnknown);
  Issue(*store, Cert(1, "device-a", "2026-11-27T07:50:28Z"));
  CHECK(store->CertificateStatus(SerialHex(1)).value() == CertStatus::kActive);

  CHECK(store->RevokeSerial(SerialHex(1), 1, kRevokedAt).value() == 1);
  CHECK(store->CertificateStatus(SerialHex(1)).value() == CertStatus::kRevoked);
  auto found = store->FindBySerial(SerialHex(1)).value();
  REQUIRE(found.has_value());
  CHECK(found->revoked_at == std::optional<std::string>(kRevokedAt));
  CHECK(found->revocation_reason == std::optional<int>(1));

  // A second revocation changes nothing, not even the time or reason.
  CHECK(store->RevokeSerial(SerialHex(1), 4, "2026-10-01T00:00:00Z").value() == 0);
  found = store->FindBySerial(SerialHex(1)).value();
  CHECK(found->revoked_at == std::optional<std::string>(kRevokedAt));
  CHECK(found->revocation_reason == std::optional<int>(1));
  CHECK(store->RevokeSerial(SerialHex(2), 1, kRevokedAt).value() == 0);  // unknown

  Issue(*store, Cert(2, "device-a", "2026-11-27T07:50:28Z"));
  SUBCASE("reason 7 is not a CRLReason") {
    auto bad = store->RevokeSerial(SerialHex(2), 7, kRevokedAt);
    REQUIRE_FALSE(bad.has_value());
    CHECK(bad.error().code == Code::kConstraint);
  }
  SUBCASE("the time must be ISO 8601 UTC") {
    auto bad = store->RevokeSerial(SerialHex(2), 1, "2026-09-01 00:00:00");
    REQUIRE_FALSE(bad.has_value());
    CHECK(bad.error().code == Code::kConstraint);
  }
  CHECK(store->CertificateStatus(SerialHex(2)).value() == CertStatus::kActive);
}

TEST_CASE_TEMPLATE("RevokeDevice revokes that device's unrevoked certificates only", Backend,
                   PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = Backend::Open(dir);
  for (int i = 1; i <= 3; ++i) Issue(*store, Cert(i, "device-a", "2026-11-27T07:50:28Z"));
  Issue(*store, Cert(4, "device-b", "2026-11-27T07:50:28Z"));
  REQUIRE(store->RevokeSerial(SerialHex(1), 3, "2026-08-30T00:00:00Z").value() == 1);

  CHECK(store->RevokeDevice("device-a", 4, kRevokedAt).value() == 2);
  CHECK(store->RevokeDevice("device-a", 4, kRevokedAt).value() == 0);
  CHECK(store->RevokeDevice("device-unknown", 4, kRevokedAt).value() == 0);
  for (int i = 1; i <= 3; ++i) {
    CHECK(store->CertificateStatus(SerialHex(i)).value() == CertStatus::kRevoked);
  }
  CHECK(store->CertificateStatus(SerialHex(4)).value() == CertStatus::kActive);
  auto first = store->FindBySerial(SerialHex(1)).value();
  CHECK(first->revocation_reason == std::optional<int>(3));  // kept its own revocation
  CHECK(store->FindBySerial(SerialHex(2)).value()->revocation_reason == std::optional<int>(4));
}

TEST_CASE_TEMPLATE("the bootstrap denylist matches a fingerprint, or an issuer AND serial", Backend,
                   PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = Backend::Open(dir);
  const std::string fp = HashHex(1, 'f');
  REQUIRE(DenyAsAdmin(*store, {.fingerprint = fp, .reason = "stolen", .added_at = kRevokedAt})
              .has_value());
  REQUIRE(DenyAsAdmin(*store, {.issuer = "CN=Bootstrap CA",
                               .serial_hex = "0a1b",
                               .reason = "batch recalled",
                               .added_at = kRevokedAt})
              .has_value());

  CHECK(store->IsBootstrapDenied(fp, "CN=Other", "ff").value());
  CHECK(store->IsBootstrapDenied(HashHex(2, 'f'), "CN=Bootstrap CA", "0a1b").value());
  CHECK_FALSE(store->IsBootstrapDenied(HashHex(2, 'f'), "CN=Bootstrap CA", "0a1c").value());
  CHECK_FALSE(store->IsBootstrapDenied(HashHex(2, 'f'), "CN=Other CA", "0a1b").value());
  CHECK_FALSE(store->IsBootstrapDenied("", "", "").value());

  auto listed = store->ListDenied();
  REQUIRE(listed.has_value());
  REQUIRE(listed->size() == 2);
  CHECK((*listed)[0].fingerprint == fp);
  CHECK((*listed)[0].issuer.empty());
  CHECK((*listed)[0].serial_hex.empty());
  CHECK((*listed)[0].reason == "stolen");
  CHECK((*listed)[1].fingerprint.empty());
  CHECK((*listed)[1].issuer == "CN=Bootstrap CA");
  CHECK((*listed)[1].serial_hex == "0a1b");
  CHECK((*listed)[1].added_at == kRevokedAt);

  DenyEntry bad{.reason = "x", .added_at = kRevokedAt};
  SUBCASE("neither fingerprint nor issuer + serial") { bad.issuer = "CN=Bootstrap CA"; }
  SUBCASE("an uppercase serial could never match") {
    bad.issuer = "CN=Bootstrap CA";
    bad.serial_hex = "0A1B";
  }
  SUBCASE("a fingerprint that is not SHA-256 hex") { bad.fingerprint = "abc"; }
  SUBCASE("added_at not ISO 8601") {
    bad.fingerprint = fp;
    bad.added_at = "yesterday";
  }
  auto refused = DenyAsAdmin(*store, bad);
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().code == Code::kConstraint);
  CHECK(store->ListDenied().value().size() == 2);
}

TEST_CASE_TEMPLATE("RevokedUnexpired lists revoked certificates that have not expired yet", Backend,
                   PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = Backend::Open(dir);
  const std::string now = "2026-10-01T00:00:00Z";
  Issue(*store, Cert(1, "d", "2026-11-27T07:50:28Z"));  // revoked, unexpired: listed
  Issue(*store, Cert(2, "d", "2026-09-01T00:00:00Z"));  // revoked, expired
  Issue(*store, Cert(3, "d", now));                     // revoked, expires exactly now
  Issue(*store, Cert(4, "d", "2026-11-27T07:50:28Z"));  // not revoked
  Issue(*store, Cert(5, "d", "2026-10-15T00:00:00Z"));  // revoked, unexpired: listed first
  for (int n : {1, 2, 3, 5}) REQUIRE(store->RevokeSerial(SerialHex(n), 1, kRevokedAt).value() == 1);

  // Soonest expiry first.
  CHECK(Serials(store->RevokedUnexpired(now)) ==
        std::vector<std::string>{SerialHex(5), SerialHex(1)});
  auto listed = store->RevokedUnexpired(now).value();
  CHECK(listed[0].revocation_reason == std::optional<int>(1));
}

TEST_CASE_TEMPLATE("NextCrlNumber counts 1, 2, 3, survives reopening and never repeats", Backend,
                   PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  {
    auto store = Backend::Open(dir);
    CHECK(store->NextCrlNumber().value() == 1);
    CHECK(store->NextCrlNumber().value() == 2);
    CHECK(store->NextCrlNumber().value() == 3);
  }
  auto store_a = Backend::Open(dir);
  CHECK(store_a->NextCrlNumber().value() == 4);

  auto store_b = Backend::Open(dir);
  std::vector<std::vector<int64_t>> got(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      Store& store = t % 2 == 0 ? *store_a : *store_b;
      for (int i = 0; i < 10; ++i) got[t].push_back(store.NextCrlNumber().value_or(-1));
    });
  }
  for (std::thread& thread : threads) thread.join();
  std::set<int64_t> numbers;
  for (const auto& list : got) numbers.insert(list.begin(), list.end());
  CHECK(numbers.size() == 40);
  CHECK(*numbers.begin() == 5);
  CHECK(*numbers.rbegin() == 44);
}

TEST_CASE_TEMPLATE("ListCertificates applies each filter and the limit", Backend,
                   PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = Backend::Open(dir);
  Issue(*store, Cert(1, "device-a", "2026-10-01T00:00:00Z"));
  Issue(*store, Cert(2, "device-a", "2027-01-01T00:00:00Z"));
  Issue(*store, Cert(3, "device-b", "2026-10-01T00:00:00Z"));
  Issue(*store, Cert(4, "device-b", "2026-10-01T00:00:00Z"));
  REQUIRE(store->RevokeSerial(SerialHex(4), 1, kRevokedAt).value() == 1);
  REQUIRE(store->RevokeSerial(SerialHex(2), 1, kRevokedAt).value() == 1);
  using V = std::vector<std::string>;

  CHECK(Serials(store->ListCertificates({})) ==
        V{SerialHex(1), SerialHex(2), SerialHex(3), SerialHex(4)});
  CHECK(Serials(store->ListCertificates({.device_id = "device-b"})) ==
        V{SerialHex(3), SerialHex(4)});
  CHECK(Serials(store->ListCertificates({.revoked_only = true})) == V{SerialHex(2), SerialHex(4)});
  CHECK(Serials(store->ListCertificates({.expiring_before_iso = "2026-12-01T00:00:00Z"})) ==
        V{SerialHex(1), SerialHex(3)});
  CHECK(Serials(store->ListCertificates(
            {.device_id = "device-a", .expiring_before_iso = "2026-12-01T00:00:00Z"})) ==
        V{SerialHex(1)});
  CHECK(Serials(store->ListCertificates({.device_id = "device-b", .revoked_only = true})) ==
        V{SerialHex(4)});
  CHECK(Serials(store->ListCertificates(
            {.revoked_only = true, .expiring_before_iso = "2026-12-01T00:00:00Z"})) == V{});
  CHECK(Serials(store->ListCertificates({.limit = 2})) == V{SerialHex(1), SerialHex(2)});
  CHECK(Serials(store->ListCertificates({.limit = 0})) == V{});
  CHECK(Serials(store->ListCertificates({.device_id = "'; DROP TABLE certificates; --"})) == V{});
  CHECK(store->CountCertificates().value() == 4);
}

TEST_CASE("SQLite: the active_certificates view shows unrevoked, unexpired rows by the clock") {
  TempDir dir;
  std::string path = dir.File("store.db");
  auto store = OpenOrDie(path);
  Issue(*store, Cert(1, "device-a", "2999-01-01T00:00:00Z"));  // active
  Issue(*store, Cert(2, "device-a", "2000-01-01T00:00:00Z"));  // expired
  Issue(*store, Cert(3, "device-a", "2999-01-01T00:00:00Z"));  // revoked
  REQUIRE(store->RevokeSerial(SerialHex(3), 1, kRevokedAt).value() == 1);

  RawDb raw = OpenRaw(path);
  CHECK(QueryRawInt(raw.get(), "SELECT count(*) FROM active_certificates") == 1);
  CHECK(QueryRaw(raw.get(), "SELECT serial FROM active_certificates") == SerialHex(1));
}

}  // namespace
}  // namespace db::testing
