// admission_test.cc — the per-source connection table shared by the workers and the order in
// which a worker evicts connections still in their handshake (daemon/admission.h).
#include "daemon/admission.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace provisiond;

namespace {

sockaddr_storage V4(const char* text) {
  sockaddr_storage ss{};
  auto& a = reinterpret_cast<sockaddr_in&>(ss);
  a.sin_family = AF_INET;
  REQUIRE(inet_pton(AF_INET, text, &a.sin_addr) == 1);
  return ss;
}

sockaddr_storage V6(const char* text) {
  sockaddr_storage ss{};
  auto& a = reinterpret_cast<sockaddr_in6&>(ss);
  a.sin6_family = AF_INET6;
  REQUIRE(inet_pton(AF_INET6, text, &a.sin6_addr) == 1);
  return ss;
}

}  // namespace

TEST_CASE("the per-source limit: configured, or a tenth of the table but at least 16") {
  Limits limits;
  CHECK(PerSourceLimit(limits) == 1000);  // 10000 / 10
  limits.max_connections = 100;
  CHECK(PerSourceLimit(limits) == 16);
  limits.max_connections = 6;
  CHECK(PerSourceLimit(limits) == 6);  // a table smaller than 16 is the only limit
  limits.max_connections_per_source = 5;
  CHECK(PerSourceLimit(limits) == 5);
}

TEST_CASE("a source is an IPv4 address (mapped or not) or an IPv6 /64") {
  using K = SourceTable;
  CHECK(K::KeyOf(V4("127.0.0.2")) != K::KeyOf(V4("127.0.0.3")));
  CHECK(K::KeyOf(V4("192.0.2.7")) == K::KeyOf(V6("::ffff:192.0.2.7")));
  CHECK(K::KeyOf(V6("2001:db8:1:2::1")) == K::KeyOf(V6("2001:db8:1:2:ffff::9")));
  CHECK(K::KeyOf(V6("2001:db8:1:2::1")) != K::KeyOf(V6("2001:db8:1:3::1")));
  CHECK(K::KeyOf(V6("::1")) != K::KeyOf(V4("0.0.0.1")));
}

TEST_CASE("a source holds at most its limit; a closed connection frees its place and entry") {
  SourceTable table;
  const auto attacker = SourceTable::KeyOf(V4("127.0.0.2"));
  const auto device = SourceTable::KeyOf(V4("127.0.0.1"));
  int admitted = 0;
  for (int i = 0; i < 50; ++i) admitted += table.Acquire(attacker, 8);
  CHECK(admitted == 8);
  CHECK(table.Count(attacker) == 8);
  CHECK(table.Acquire(device, 8));  // another source is not held back by the first
  table.Release(attacker);
  CHECK(table.Acquire(attacker, 8));
  CHECK_FALSE(table.Acquire(attacker, 8));
  CHECK_FALSE(table.Acquire(SourceTable::KeyOf(V4("10.0.0.1")), 0));  // leaves no entry
  CHECK(table.Sources() == 2);
  for (int i = 0; i < 8; ++i) table.Release(attacker);
  table.Release(device);
  CHECK(table.Sources() == 0);  // memory is bounded by the connections held
  table.Release(device);        // an extra release is harmless
  CHECK(table.Count(device) == 0);
}

TEST_CASE("workers sharing the table never let one source exceed its limit") {
  SourceTable table;
  std::vector<SourceTable::Key> keys;
  for (int i = 0; i < 8; ++i) {
    keys.push_back(SourceTable::KeyOf(V4(("127.0.0." + std::to_string(i + 2)).c_str())));
  }
  std::atomic<int> over{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 2000; ++round) {
        const auto& key = keys[(round + t) % keys.size()];
        if (table.Acquire(key, 3)) {
          if (table.Count(key) > 3) over.fetch_add(1);
          table.Release(key);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(over.load() == 0);
  CHECK(table.Sources() == 0);
}

TEST_CASE("eviction takes the oldest silent connection, then the oldest started one") {
  using State = HandshakeQueue::State;
  HandshakeQueue queue;
  const auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::seconds(100);
  for (int i = 0; i < 8; ++i) queue.Push({10 + i, uint64_t(i), t0 + std::chrono::seconds(i)});
  std::set<int> done = {10, 13};     // handshake finished (or closed) since they were accepted
  std::set<int> started = {11, 14};  // a TLS session under way (a device's ClientHello came)
  auto state = [&](int fd, uint64_t) {
    return done.contains(fd)      ? State::kGone
           : started.contains(fd) ? State::kStarted
                                  : State::kSilent;
  };
  auto first = queue.PopOldest(state);
  REQUIRE(first);
  CHECK(first->fd == 12);  // 11 is older but started: the silent one goes first
  CHECK(first->accepted == t0 + std::chrono::seconds(2));
  started.insert(16);
  done.insert(17);
  queue.Compact(state);
  CHECK(queue.size() == 4);  // silent 15; started 11, 14, 16
  CHECK(queue.PopOldest(state)->fd == 15);
  CHECK(queue.PopOldest(state)->fd == 11);  // no silent one left: the oldest started one
  CHECK(queue.PopOldest(state)->fd == 14);
  CHECK(queue.PopOldest(state)->fd == 16);
  CHECK_FALSE(queue.PopOldest(state));
  // Only entries accepted by a time: the young ones stay (silent or started).
  for (int i = 0; i < 4; ++i) queue.Push({30 + i, uint64_t(i), t0 + std::chrono::seconds(i)});
  started = {31, 33};
  CHECK(queue.PopOldest(state, t0 + std::chrono::seconds(1))->fd == 30);
  CHECK(queue.PopOldest(state, t0 + std::chrono::seconds(1))->fd == 31);  // moved, then taken
  CHECK_FALSE(queue.PopOldest(state, t0 + std::chrono::seconds(1)));
  CHECK(queue.size() == 2);
  CHECK(queue.PopOldest(state)->fd == 32);
  CHECK(queue.PopOldest(state)->fd == 33);
  // For a table of young connections: the newest silent one.
  for (int i = 0; i < 4; ++i) queue.Push({40 + i, uint64_t(i), t0 + std::chrono::seconds(i)});
  started = {43};
  done = {42};
  CHECK(queue.PopNewestSilent(state)->fd == 41);  // 43 started, 42 gone
  CHECK(queue.PopNewestSilent(state)->fd == 40);
  CHECK_FALSE(queue.PopNewestSilent(state));
  CHECK(queue.PopOldest(state)->fd == 43);
  // A reused fd with a new id is not the connection the entry was for.
  queue.Push({20, 7, t0});
  CHECK_FALSE(
      queue.PopOldest([](int, uint64_t id) { return id == 7 ? State::kGone : State::kSilent; }));
}

TEST_CASE("a started handshake is given longer than a silent one before it is evicted") {
  using State = HandshakeQueue::State;
  HandshakeQueue queue;
  const auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::seconds(100);
  for (int i = 0; i < 4; ++i) queue.Push({50 + i, uint64_t(i), t0 + std::chrono::seconds(i)});
  const std::set<int> started = {50, 51};  // the oldest two sent their ClientHello
  auto state = [&](int fd, uint64_t) {
    return started.contains(fd) ? State::kStarted : State::kSilent;
  };
  // At t0 + 4 s with a 1 s silent cutoff and a 5 s started one (the default 10 s handshake
  // timeout): the silent ones of 3 s and 2 s go, the started ones of 4 s and 3 s stay.
  const auto silent_by = t0 + std::chrono::seconds(3);
  const auto started_by = t0 - std::chrono::seconds(1);
  CHECK(queue.PopOldest(state, silent_by, started_by)->fd == 52);
  CHECK(queue.PopOldest(state, silent_by, started_by)->fd == 53);
  CHECK_FALSE(queue.PopOldest(state, silent_by, started_by));
  CHECK(queue.size() == 2);
  // Once they are old enough, the oldest started one goes first.
  CHECK(queue.PopOldest(state, silent_by, t0)->fd == 50);
  CHECK_FALSE(queue.PopOldest(state, silent_by, t0));
  CHECK(queue.PopOldest(state)->fd == 51);
}
