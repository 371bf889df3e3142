// store_watch_test.cc — /healthz's store verdict and the provisiond_store_* metrics from the
// store's health (daemon/store_watch.h), and the probe bringing a SQLite store's state back up.
#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "daemon/metrics_http.h"
#include "daemon/store_watch.h"
#include "db/sqlite_store.h"

using namespace provisiond;

namespace {

std::string Healthz(const db::StoreHealth& health) {
  MetricsHandlers handlers{
      .metrics = [] { return std::string(); },
      .health = [&health](std::string* reason) { return StoreHealthy(health.Get(), reason); },
  };
  return AnswerMetricsRequest("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", handlers);
}

}  // namespace

TEST_CASE("store health: /healthz 503 with one line while down, 200 after, and the metrics") {
  db::StoreHealth health;
  CHECK(Healthz(health).starts_with("HTTP/1.1 200"));
  std::string text;
  RenderStoreMetrics(health.Get(), &text);
  CHECK(text.find("\nprovisiond_store_up 1\n") != std::string::npos);
  CHECK(text.find("provisiond_store_errors_total{code=\"io\"} 0\n") != std::string::npos);
  CHECK(text.find("provisiond_store_reconnects_total 0\n") != std::string::npos);

  health.Failed(db::Error{db::Code::kBusy, "lock timeout"});  // busy: still answering
  CHECK(health.up());
  health.Failed(db::Error{db::Code::kConstraint, "UNIQUE"});  // an outcome, not a failure
  health.Failed(db::Error{db::Code::kIo, "PQconnectdb: connection refused\nsecond line"});
  CHECK_FALSE(health.up());
  const std::string down = Healthz(health);
  CHECK(down.starts_with("HTTP/1.1 503"));
  CHECK(down.find("store unavailable: PQconnectdb: connection refused\n") != std::string::npos);
  CHECK(down.find("second line") == std::string::npos);
  text.clear();
  RenderStoreMetrics(health.Get(), &text);
  CHECK(text.find("\nprovisiond_store_up 0\n") != std::string::npos);
  CHECK(text.find("provisiond_store_errors_total{code=\"io\"} 1\n") != std::string::npos);
  CHECK(text.find("provisiond_store_errors_total{code=\"busy\"} 1\n") != std::string::npos);

  health.Reconnected();
  health.Answered();
  CHECK(Healthz(health).starts_with("HTTP/1.1 200"));
  text.clear();
  RenderStoreMetrics(health.Get(), &text);
  CHECK(text.find("\nprovisiond_store_up 1\n") != std::string::npos);
  CHECK(text.find("provisiond_store_reconnects_total 1\n") != std::string::npos);
  CHECK(text.find("provisiond_store_errors_total{code=\"io\"} 1\n") != std::string::npos);
}

TEST_CASE("StoreProbe: a store marked down that answers again is up within a period or two") {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("provisiond-probe-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  {
    auto store = db::SqliteStore::Open((dir / "p.db").string());
    REQUIRE(store.has_value());
    db::StoreHealth health;
    health.Failed(db::Error{db::Code::kIo, "disk I/O error"});
    StoreProbe probe(**store, health, std::chrono::milliseconds(50));
    const auto start = std::chrono::steady_clock::now();
    while (!health.up() && std::chrono::steady_clock::now() - start < std::chrono::seconds(5)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    CHECK(health.up());
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(1000));
  }
  std::filesystem::remove_all(dir);
}
