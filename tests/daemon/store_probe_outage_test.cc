// store_probe_outage_test.cc — StoreProbe (daemon/store_watch.h) on a PostgreSQL store whose
// server is halted: /healthz's verdict turns "store unavailable" and stays so while it is away,
// with no device traffic at all, and turns healthy by itself once the server is back. In
// db_outage_tests, on the cluster that binary halts and resumes.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "daemon/store_watch.h"
#include "db/pg_store.h"
#include "db/store_health.h"
#include "tests/db/pg_fixture.h"

namespace provisiond {

TEST_CASE("StoreProbe: down while PostgreSQL is halted, up by itself once it is back") {
  auto cluster = [](const std::string& action) {
    const std::string command = std::string("bash ") + PROVISIOND_PG_CLUSTER_SH + " " + action +
                                " " + PROVISIOND_PG_OUTAGE_STATE;
    REQUIRE_MESSAGE(std::system(command.c_str()) == 0, command);
  };
  db::testing::TempDir dir;
  auto store = db::PgStore::Open(db::testing::PgTestDatabase::For(dir));
  REQUIRE(store.has_value());
  db::StoreHealth& health = db::GlobalStoreHealth();
  StoreProbe probe(**store, health, std::chrono::milliseconds(100));
  std::string reason;
  REQUIRE(StoreHealthy(health.Get(), &reason));

  cluster("halt");
  struct Resume {
    std::function<void()> resume;
    ~Resume() {
      if (resume) resume();
    }
  } guard{[&] { cluster("resume"); }};
  // The probe's own lookups notice (no device asks anything), within a period or two.
  const auto halted = std::chrono::steady_clock::now();
  while (health.up() && std::chrono::steady_clock::now() - halted < std::chrono::seconds(5)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(std::chrono::steady_clock::now() - halted < std::chrono::seconds(1));
  for (int i = 0; i < 10; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    CHECK_FALSE(StoreHealthy(health.Get(), &reason));
  }
  CHECK(reason.starts_with("store unavailable: "));

  guard.resume = nullptr;
  cluster("resume");
  const auto start = std::chrono::steady_clock::now();
  while (!health.up() && std::chrono::steady_clock::now() - start < std::chrono::seconds(15)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  MESSAGE("healthy again " << took.count() << " ms after the server was back");
  CHECK(StoreHealthy(health.Get(), &reason));
  // The reconnect back-off's cap (5 s, db/pg_conn.h), a probe period and a connect.
  CHECK(took < std::chrono::milliseconds(7000));
}

}  // namespace provisiond
