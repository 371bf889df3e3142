// pg_outage_test.cc — a PostgreSQL server that goes away or turns read-only under a PgStore and a
// PgWriter: every call fails with kIo (a 503 for devices) within a bound, fast during the
// reconnect back-off, and the store comes back by itself. Its own cluster (the CTest fixture
// db_outage/pg_cluster), since the cases stop it; run one at a time.
#include <doctest/doctest.h>
#include <stdlib.h>

#include <chrono>
#include <cstdlib>
#include <future>
#include <string>

#include "db/pg_conn.h"
#include "db/pg_store.h"
#include "db/pg_writer.h"
#include "db/store_health.h"
#include "tests/db/pg_fixture.h"

namespace db::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// pg_cluster.sh on this binary's cluster: halt, resume.
void ClusterDo(const std::string& action) {
  const std::string command = std::string("bash ") + PROVISIOND_PG_CLUSTER_SH + " " + action +
                              " " + PROVISIOND_PG_OUTAGE_STATE;
  REQUIRE_MESSAGE(std::system(command.c_str()) == 0, command);
}

// The cluster this binary's fixture started (pg_fixture.h reads the variable).
void UseOutageCluster() {
  setenv("PROVISIOND_TEST_PG_CONNINFO_FILE", PROVISIOND_PG_OUTAGE_STATE "/conninfo", 1);
}

// Halts the server now; resumes it when the guard goes, if the case has not (so the database's
// drop at the end of the case, and the next case, find it running).
class Outage {
 public:
  Outage() { ClusterDo("halt"); }
  ~Outage() {
    if (!resumed_) ClusterDo("resume");
  }
  void Resume() {
    ClusterDo("resume");
    resumed_ = true;
  }

 private:
  bool resumed_ = false;
};

// One event through the writer; the result, or kInternal if `done` did not come within 20 s.
Result<void> WriteEvent(Writer& writer, const std::string& outcome) {
  auto promise = std::make_shared<std::promise<Result<void>>>();
  auto future = promise->get_future();
  if (!writer.SubmitEvent(SampleEvent(outcome), [promise](Result<void> r) {
        promise->set_value(std::move(r));
      })) {
    return base::Fail(Code::kInternal, "writer refused the event");
  }
  if (future.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
    return base::Fail(Code::kInternal, "no answer from the writer in 20 s");
  }
  return future.get();
}

milliseconds Since(Clock::time_point start) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - start);
}

// Calls `attempt` until it succeeds or `limit` passes; how long that took, or nullopt.
template <typename F>
std::optional<milliseconds> Until(F&& attempt, milliseconds limit) {
  const auto start = Clock::now();
  while (Since(start) < limit) {
    if (attempt()) return Since(start);
    std::this_thread::sleep_for(milliseconds(20));
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("PostgreSQL stopped: kIo at once, fast during the back-off, back by itself") {
  UseOutageCluster();
  TempDir dir;
  const std::string conninfo = PgTestDatabase::For(dir);
  auto store = PgStore::Open(conninfo);
  REQUIRE(store.has_value());
  auto writer = PgWriter::Start(**store);
  REQUIRE(writer.has_value());
  REQUIRE(WriteEvent(**writer, "before").has_value());
  REQUIRE((*store)->CertificateStatus(SerialHex(1)).has_value());
  const StoreHealth::Snapshot before = GlobalStoreHealth().Get();
  CHECK(before.up);

  Outage outage;
  milliseconds slowest{0};
  int fail_fast = 0;
  for (int i = 0; i < 40; ++i) {
    const auto start = Clock::now();
    auto status = (*store)->CertificateStatus(SerialHex(1));
    slowest = std::max(slowest, Since(start));
    REQUIRE_FALSE(status.has_value());
    CHECK(status.error().code == Code::kIo);
    if (status.error().detail.find("store unavailable, reconnecting") != std::string::npos) {
      ++fail_fast;
    }
    std::this_thread::sleep_for(milliseconds(10));
  }
  const auto write_start = Clock::now();
  auto written = WriteEvent(**writer, "during");
  const milliseconds write_took = Since(write_start);
  REQUIRE_FALSE(written.has_value());
  CHECK(written.error().code == Code::kIo);
  MESSAGE("server down: slowest read " << slowest.count() << " ms, a write "
                                       << write_took.count() << " ms, " << fail_fast
                                       << " of 40 reads inside the back-off");
  CHECK(slowest < milliseconds(1000));
  CHECK(write_took < milliseconds(1000));
  // 40 calls 10 ms apart: the back-off (100, 200, 400 ms ...) answers most of them at once.
  CHECK(fail_fast >= 30);
  const StoreHealth::Snapshot down = GlobalStoreHealth().Get();
  CHECK_FALSE(down.up);
  CHECK_FALSE(down.reason.empty());
  CHECK(down.io > before.io);

  outage.Resume();
  auto read_back = Until([&] { return (*store)->CertificateStatus(SerialHex(1)).has_value(); },
                         milliseconds(15000));
  REQUIRE(read_back.has_value());
  auto write_back = Until([&] { return WriteEvent(**writer, "after").has_value(); },
                          milliseconds(15000));
  REQUIRE(write_back.has_value());
  MESSAGE("server back: reads after " << read_back->count() << " ms, writes after "
                                      << write_back->count() << " ms");
  // At most one back-off period (kPgBackoffMax) and a connect.
  CHECK(*read_back < kPgBackoffMax + milliseconds(2000));
  CHECK(*write_back < kPgBackoffMax + milliseconds(2000));
  const StoreHealth::Snapshot after = GlobalStoreHealth().Get();
  CHECK(after.up);
  CHECK(after.reason.empty());
  CHECK(after.reconnects >= before.reconnects + 2);  // the store's session and the writer's
  // Nothing was lost and nothing half-written: the events before and after, chained.
  auto report = (*store)->VerifyAuditChain();
  REQUIRE(report.has_value());
  CHECK(report->ok);
}

TEST_CASE("PostgreSQL read-only: kIo, the session is made again, writes resume when writable") {
  UseOutageCluster();
  TempDir dir;
  const std::string conninfo = PgTestDatabase::For(dir);
  const std::string cluster = PgTestDatabase::Cluster();
  // A standby refuses a read-write session: with target_session_attrs=read-write a new session
  // skips a read-only server (and, with several hosts, finds the new primary).
  auto store = PgStore::Open(conninfo + " target_session_attrs=read-write");
  REQUIRE(store.has_value());
  auto writer = PgWriter::Start(**store);
  REQUIRE(writer.has_value());
  REQUIRE(WriteEvent(**writer, "before").has_value());
  const StoreHealth::Snapshot before = GlobalStoreHealth().Get();

  auto set_read_only = [&](bool on) {
    std::string error = PgTestDatabase::Admin(
        cluster, on ? "ALTER SYSTEM SET default_transaction_read_only = on"
                    : "ALTER SYSTEM RESET default_transaction_read_only");
    REQUIRE_MESSAGE(error.empty(), error);
    error = PgTestDatabase::Admin(cluster, "SELECT pg_reload_conf()");
    // SELECT returns rows: Admin wants COMMAND_OK, so its message names TUPLES_OK; accept it.
    REQUIRE_MESSAGE((error.empty() || error.find("pg_reload_conf") != std::string::npos), error);
  };
  struct Writable {  // a failed case must not leave the cluster read-only for the next
    std::function<void(bool)> set;
    ~Writable() { set(false); }
  } writable{set_read_only};
  set_read_only(true);
  // The reload reaches every backend soon, not at once.
  auto refused = Until([&] {
    auto r = (*store)->RecordEvent(SampleEvent("read-only"));
    return !r && r.error().code == Code::kIo;
  }, milliseconds(5000));
  REQUIRE(refused.has_value());
  for (int i = 0; i < 5; ++i) {
    const auto start = Clock::now();
    auto r = WriteEvent(**writer, "read-only");
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == Code::kIo);  // 25006, then a refused new session: a 503, never a 500
    CHECK(Since(start) < milliseconds(1000));
  }
  const StoreHealth::Snapshot down = GlobalStoreHealth().Get();
  CHECK_FALSE(down.up);
  CHECK(down.reason.find("read-only") != std::string::npos);

  set_read_only(false);
  auto back = Until([&] { return WriteEvent(**writer, "writable").has_value(); },
                    milliseconds(15000));
  REQUIRE(back.has_value());
  REQUIRE(Until([&] { return (*store)->RecordEvent(SampleEvent("writable")).has_value(); },
                milliseconds(15000)).has_value());
  MESSAGE("writable again: writes after " << back->count() << " ms");
  const StoreHealth::Snapshot after = GlobalStoreHealth().Get();
  CHECK(after.up);
  CHECK(after.reconnects >= before.reconnects + 2);  // each dropped its read-only session
}

}  // namespace db::testing
