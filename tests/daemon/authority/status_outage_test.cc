// status_outage_test.cc — the handshake's status check (StoreStatusCheck) on a PostgreSQL store
// whose server is stopped: kUnavailable (the handshake completes, the enrollment gets 503), not a
// refusal; revoked and denylisted certificates are refused as before once the store answers.
// Runs in db_outage_tests, on the cluster that binary halts and resumes.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "daemon/authority/status_check.h"
#include "db/pg_store.h"
#include "db/store_health.h"
#include "tests/db/admin_writes.h"
#include "tests/db/pg_fixture.h"

namespace provisiond {
namespace {

using db::testing::HashHex;
using db::testing::SerialHex;

void ClusterDo(const std::string& action) {
  const std::string command = std::string("bash ") + PROVISIOND_PG_CLUSTER_SH + " " + action +
                              " " + PROVISIOND_PG_OUTAGE_STATE;
  REQUIRE_MESSAGE(std::system(command.c_str()) == 0, command);
}

PresentedCert Leaf(int serial, const std::string& fingerprint) {
  return PresentedCert{.subject = "CN=dev",
                       .not_after = 0,
                       .issuer = "CN=Maker CA",
                       .serial_hex = SerialHex(serial),
                       .fingerprint = fingerprint,
                       .public_key_der = {}};
}

}  // namespace

TEST_CASE("status check, store stopped: unavailable (503), never a refusal, refusals after") {
  db::testing::TempDir dir;
  auto store = db::PgStore::Open(db::testing::PgTestDatabase::For(dir));
  REQUIRE(store.has_value());
  db::Store& s = **store;
  db::testing::Issue(s, db::testing::EnrollCertificate(1, 1, "dev-1", HashHex(101, 'f')));
  db::testing::Issue(s, db::testing::EnrollCertificate(2, 2, "dev-2", HashHex(102, 'f')));
  REQUIRE(s.RevokeSerial(SerialHex(2), 1, "2026-05-01T00:00:00Z").value() == 1);
  REQUIRE(db::testing::DenyAsAdmin(s, db::DenyEntry{.fingerprint = HashHex(9, 'f'),
                                                    .reason = "leaked",
                                                    .added_at = "2026-05-01T00:00:00Z"}));
  StoreStatusCheck check(s);
  using Kind = StatusVerdict::Kind;
  const PresentedCert active = Leaf(1, HashHex(201, 'e'));
  const PresentedCert revoked = Leaf(2, HashHex(202, 'e'));
  const PresentedCert denied = Leaf(9, HashHex(9, 'f'));
  const PresentedCert fresh = Leaf(10, HashHex(10, 'f'));
  CHECK(check.Check(active, AuthKind::kOperational).kind == Kind::kAccept);
  CHECK(check.Check(revoked, AuthKind::kOperational).kind == Kind::kRefuse);
  CHECK(check.Check(denied, AuthKind::kBootstrap).kind == Kind::kRefuse);
  CHECK(check.Check(fresh, AuthKind::kBootstrap).kind == Kind::kAccept);

  ClusterDo("halt");
  struct Resume {
    bool done = false;
    ~Resume() {
      if (!done) ClusterDo("resume");
    }
  } resume;
  for (const auto& [leaf, kind] : {std::pair{active, AuthKind::kOperational},
                                   std::pair{revoked, AuthKind::kOperational},
                                   std::pair{denied, AuthKind::kBootstrap},
                                   std::pair{fresh, AuthKind::kBootstrap}}) {
    StatusVerdict verdict = check.Check(leaf, kind);
    CHECK(verdict.kind == Kind::kUnavailable);
    CHECK(verdict.reason.find("unavailable: ") != std::string::npos);
  }
  CHECK_FALSE(db::GlobalStoreHealth().up());

  ClusterDo("resume");
  resume.done = true;
  const auto start = std::chrono::steady_clock::now();
  while (check.Check(denied, AuthKind::kBootstrap).kind == Kind::kUnavailable &&
         std::chrono::steady_clock::now() - start < std::chrono::seconds(15)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(check.Check(denied, AuthKind::kBootstrap).kind == Kind::kRefuse);
  CHECK(check.Check(revoked, AuthKind::kOperational).kind == Kind::kRefuse);
  CHECK(check.Check(active, AuthKind::kOperational).kind == Kind::kAccept);
  CHECK(db::GlobalStoreHealth().up());
}

}  // namespace provisiond
