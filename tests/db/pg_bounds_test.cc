// pg_bounds_test.cc — PgConn's waits are bounded: a server that accepts but never answers the
// startup (connect_timeout), and a server process that stops mid-session (the client deadline:
// statement_timeout plus kPgClientDeadlineMargin). Without the bounds each call would wait
// forever; a watchdog ends the wait after 12 s so that such a failure is reported, not hung.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "db/pg_conn.h"
#include "db/store_health.h"
#include "tests/db/pg_fixture.h"

namespace db::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

milliseconds Since(Clock::time_point start) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - start);
}

// Runs `rescue` after `after` unless cancelled first (the destructor cancels and joins).
class Watchdog {
 public:
  Watchdog(milliseconds after, std::function<void()> rescue)
      : thread_([this, after, rescue = std::move(rescue)] {
          const auto end = Clock::now() + after;
          while (!cancelled_ && Clock::now() < end) std::this_thread::sleep_for(milliseconds(20));
          if (!cancelled_) rescue();
        }) {}
  ~Watchdog() {
    cancelled_ = true;
    thread_.join();
  }

 private:
  std::atomic<bool> cancelled_{false};
  std::thread thread_;
};

}  // namespace

TEST_CASE("PgConn: a server that accepts but never answers fails the connect in connect_timeout") {
  // A listening TCP socket on loopback that never accepts: the kernel completes the handshake,
  // libpq sends its startup packet and waits for an answer that never comes.
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(listener >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(listen(listener, 8) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  const std::string conninfo = "host=127.0.0.1 port=" + std::to_string(ntohs(addr.sin_port)) +
                               " user=nobody dbname=none sslmode=disable";
  std::atomic<int> fd{listener};
  Watchdog watchdog(milliseconds(12000), [&fd] { close(fd.exchange(-1)); });  // resets the wait
  const auto start = Clock::now();
  auto conn = PgConn::Connect(conninfo);
  const milliseconds took = Since(start);
  MESSAGE("connect to a silent server failed after " << took.count() << " ms");
  REQUIRE_FALSE(conn.has_value());
  CHECK(conn.error().code == Code::kIo);
  CHECK(conn.error().detail.find("timeout") != std::string::npos);
  CHECK(took >= milliseconds(2000));  // connect_timeout = 3 s (libpq waits whole seconds)
  CHECK(took < milliseconds(5000));
  CHECK_FALSE(GlobalStoreHealth().up());
  if (int still = fd.exchange(-1); still >= 0) close(still);
}

TEST_CASE("PgConn: a server process that stops mid-session fails the statement at the deadline") {
  TempDir dir;
  const std::string conninfo = PgTestDatabase::For(dir);
  constexpr int kTimeoutMs = 1000;  // the session's statement_timeout, to keep the case short
  auto conn = PgConn::Connect(conninfo, kTimeoutMs);
  REQUIRE(conn.has_value());
  auto pid_rows = (*conn)->Query("SELECT pg_backend_pid()");
  REQUIRE(pid_rows.has_value());
  const pid_t backend = static_cast<pid_t>(pid_rows->Row(0).Int(0));
  REQUIRE(backend > 0);
  // The backend serving this session stops: no statement_timeout can fire on the server, and
  // on a Unix socket (or a live host's TCP stack) nothing tells the client.
  REQUIRE(kill(backend, SIGSTOP) == 0);
  Watchdog watchdog(milliseconds(12000), [backend] { kill(backend, SIGCONT); });
  const auto start = Clock::now();
  auto stalled = (*conn)->Query("SELECT 1");
  const milliseconds took = Since(start);
  kill(backend, SIGCONT);  // it finds its client gone and exits
  MESSAGE("a stopped backend: the statement failed after " << took.count() << " ms");
  REQUIRE_FALSE(stalled.has_value());
  CHECK(stalled.error().code == Code::kIo);
  CHECK(stalled.error().detail.find("no answer from the server") != std::string::npos);
  CHECK(took >= milliseconds(kTimeoutMs) + kPgClientDeadlineMargin - milliseconds(50));
  CHECK(took < milliseconds(kTimeoutMs) + kPgClientDeadlineMargin + milliseconds(1000));
  // The next statement runs on a new session (the first attempt after a loss is not delayed).
  auto again = (*conn)->Query("SELECT pg_backend_pid()");
  REQUIRE(again.has_value());
  CHECK(again->Row(0).Int(0) != backend);
  // The settings are the session's, made again with it.
  auto timeout = (*conn)->Query("SHOW statement_timeout");
  REQUIRE(timeout.has_value());
  CHECK(timeout->Row(0).Text(0) == "1s");
  auto lock_timeout = (*conn)->Query("SHOW lock_timeout");
  REQUIRE(lock_timeout.has_value());
  CHECK(lock_timeout->Row(0).Text(0) == "5s");
}

TEST_CASE("PgConn: a conninfo's own statement_timeout and connect_timeout are kept") {
  TempDir dir;
  const std::string conninfo =
      PgTestDatabase::For(dir) + " connect_timeout=7 options='-c statement_timeout=250'";
  auto conn = PgConn::Connect(conninfo);
  REQUIRE(conn.has_value());
  auto timeout = (*conn)->Query("SHOW statement_timeout");
  REQUIRE(timeout.has_value());
  CHECK(timeout->Row(0).Text(0) == "250ms");
  auto slow = (*conn)->Query("SELECT pg_sleep(1)");
  REQUIRE_FALSE(slow.has_value());
  CHECK(slow.error().code == Code::kBusy);  // 57014: a 503, and the session stays
  auto plain = PgConn::Connect(PgTestDatabase::For(dir));
  REQUIRE(plain.has_value());
  auto bounded = (*plain)->Query("SHOW statement_timeout");
  REQUIRE(bounded.has_value());
  CHECK(bounded->Row(0).Text(0) == std::to_string(kPgStatementTimeoutMs / 1000) + "s");
}

}  // namespace db::testing
