// worker_admit.cc — a worker's admission of accepted sockets (docs/security.md "Connection
// table"): the per-source limit, the daemon-wide table, evicting the oldest connection still in
// its handshake when the table is full, and the rate-limited lines for refusals and evictions.
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <string>

#include "daemon/log.h"
#include "daemon/metrics.h"
#include "daemon/net.h"
#include "daemon/worker.h"

namespace provisiond {

bool Worker::Admit(const sockaddr_storage& peer, bool proxied, SourceTable::Key& key) {
  const auto now = Clock::now();
  const int per_source = PerSourceLimit(config_->limits);
  // A limit as large as the table is the table's own: only the table refuses then.
  const bool counted = !proxied && per_source < config_->limits.max_connections;
  if (!proxied) key = SourceTable::KeyOf(peer);
  if (!proxied && !table_.sources.Acquire(key, counted ? per_source : 1 << 30)) {
    GlobalMetrics().connections.Inc("refused_source");
    NoteRefusedBySource(FormatAddress(peer), now);
    return false;
  }
  if (TakeTableSlot(now)) return true;
  if (!proxied) table_.sources.Release(key);
  GlobalMetrics().connections.Inc("refused");
  NoteRefused(FormatAddress(peer), now);
  return false;
}

// Connections younger than this are evicted only when there is nothing older anywhere, and then
// the newest first: a device's ClientHello may still be on its way (it looks silent).
constexpr auto kEvictMinAge = std::chrono::seconds(1);

// A started handshake (its ClientHello read, the server's share of the work under way) is
// evicted only once it is half the handshake timeout old, and at least kEvictMinAge: in a storm
// the table is full of handshakes waiting for the CPU, and evicting them at 1 s discarded work
// the server had paid for until nothing finished (docs/security.md, "Connection table").
namespace {
std::chrono::steady_clock::duration StartedEvictAge(const Limits& limits) {
  return std::max<std::chrono::steady_clock::duration>(kEvictMinAge, limits.handshake_timeout / 2);
}
}  // namespace

// A place in the table: free, or made by evicting this worker's oldest handshaking connection
// at least kEvictMinAge old, or lent while another worker evicts one of its own, or made by
// evicting our newest silent one. Else refused.
bool Worker::TakeTableSlot(Clock::time_point now) {
  while (table_.open.fetch_add(1) >= config_->limits.max_connections) {
    table_.open.fetch_sub(1);
    if (EvictOldestHandshaking(now)) continue;
    if (AskAnotherWorker()) {
      table_.open.fetch_add(1);  // over the limit by one until the other worker evicts
      return true;
    }
    if (EvictNewestSilent(now)) continue;
    return false;
  }
  return true;
}

bool Worker::AskAnotherWorker() {
  const int others = table_.handshaking.load() - static_cast<int>(handshaking_.size());
  if (others <= 0) return false;
  if (table_.evict_requests.fetch_add(1) >= ConnectionTable::kMaxEvictRequests) {
    table_.evict_requests.fetch_sub(1);
    return false;
  }
  return true;
}

void Worker::PublishHandshaking() {
  const int size = static_cast<int>(handshaking_.size());
  table_.handshaking.fetch_add(size - published_handshaking_);
  published_handshaking_ = size;
}

// A handshake counts as started once a whole TLS record of it has been read, or (peek) once
// one waits whole in the socket unread (its worker drives it at the end of this turn; one ioctl
// and one MSG_PEEK, at eviction only). A peer that sent a byte or a fragment is silent: it
// goes at the silent cutoff (a one-byte connection must not buy the started one). Before a
// trusted balancer's PROXY header, any byte counts: those bytes are not TLS.
HandshakeQueue::State Worker::HandshakeState(int fd, uint64_t id, bool peek) const {
  auto it = conns_.find(fd);
  if (it == conns_.end() || it->second->id() != id || !it->second->Handshaking()) {
    return HandshakeQueue::State::kGone;
  }
  const Connection& c = *it->second;
  if (c.RecordRead()) return HandshakeQueue::State::kStarted;
  if (!peek || !c.Fresh()) return HandshakeQueue::State::kSilent;
  int unread = 0;
  if (::ioctl(fd, FIONREAD, &unread) != 0 || unread <= 0) return HandshakeQueue::State::kSilent;
  if (c.AwaitingProxyHeader()) return HandshakeQueue::State::kStarted;
  unsigned char header[5];
  const ssize_t got = ::recv(fd, header, sizeof header, MSG_PEEK | MSG_DONTWAIT);
  if (got != static_cast<ssize_t>(sizeof header)) return HandshakeQueue::State::kSilent;
  const size_t length = (static_cast<size_t>(header[3]) << 8) | header[4];
  return static_cast<size_t>(unread) >= sizeof header + length ? HandshakeQueue::State::kStarted
                                                                : HandshakeQueue::State::kSilent;
}

bool Worker::EvictOldestHandshaking(Clock::time_point now) {
  auto state = [this](int fd, uint64_t id) { return HandshakeState(fd, id, /*peek=*/true); };
  auto oldest =
      handshaking_.PopOldest(state, now - kEvictMinAge, now - StartedEvictAge(config_->limits));
  PublishHandshaking();
  if (!oldest) return false;
  Evict(oldest->fd, oldest->accepted, now);
  return true;
}

bool Worker::EvictNewestSilent(Clock::time_point now) {
  auto state = [this](int fd, uint64_t id) { return HandshakeState(fd, id, /*peek=*/true); };
  auto newest = handshaking_.PopNewestSilent(state);
  PublishHandshaking();
  if (!newest) return false;
  Evict(newest->fd, newest->accepted, now);
  return true;
}

void Worker::Evict(int fd, Clock::time_point accepted, Clock::time_point now) {
  GlobalMetrics().connections.Inc("evicted");
  evicted_.Admit(/*row=*/false, now);
  evicted_last_peer_ = conns_.at(fd)->peer_address();
  evicted_last_age_ = now - accepted;
  Close(fd);
  LogRefusedIfDue(now);
}

// Each turn: another worker lent a place of the full table and asks for one back, evicting a
// connection at least kEvictMinAge old. Requests stay until served or until the table is back
// within its limit (connections closed): the table is over by at most kMaxEvictRequests.
void Worker::ServeEvictRequests() {
  int want = table_.evict_requests.load(std::memory_order_relaxed);
  if (want == 0) return;
  const auto now = Clock::now();
  if (table_.open.load() <= config_->limits.max_connections) {
    // The table is back within its limit: nothing is owed. Only the requests seen are cleared
    // (a lend made since stays owed).
    table_.evict_requests.compare_exchange_strong(want, 0);
    return;
  }
  while (want > 0) {
    if (!table_.evict_requests.compare_exchange_weak(want, want - 1)) continue;
    if (!EvictOldestHandshaking(now)) {
      table_.evict_requests.fetch_add(1);  // still owed: a worker that holds one serves it
      return;
    }
    want = table_.evict_requests.load();
  }
}

void Worker::NoteRefused(std::string peer, Clock::time_point now) {
  refused_.Admit(/*row=*/false, now);  // counted only: the budget admits nothing
  refused_last_peer_ = std::move(peer);
  LogRefusedIfDue(now);
}

void Worker::NoteRefusedBySource(std::string peer, Clock::time_point now) {
  refused_by_source_.Admit(/*row=*/false, now);
  refused_by_source_last_peer_ = std::move(peer);
  LogRefusedIfDue(now);
}

// At most one line a second per worker for each kind, with the number it stands for and the
// last peer: a flood must not become a log flood.
void Worker::LogRefusedIfDue(Clock::time_point now) {
  if (auto refused = refused_.TakeSummaryIfDue(now)) {
    Log(Priority::kWarning, "connection_refused",
        {{"peer", refused_last_peer_},
         {"reason", "max connections reached"},
         {"refused", std::to_string(refused->events)},
         {"max_connections", std::to_string(config_->limits.max_connections)}});
  }
  if (auto refused = refused_by_source_.TakeSummaryIfDue(now)) {
    Log(Priority::kWarning, "connection_refused",
        {{"peer", refused_by_source_last_peer_},
         {"reason", "max connections per source reached"},
         {"refused", std::to_string(refused->events)},
         {"max_connections_per_source", std::to_string(PerSourceLimit(config_->limits))}});
  }
  if (auto evicted = evicted_.TakeSummaryIfDue(now)) {
    const auto age = std::chrono::duration_cast<std::chrono::milliseconds>(evicted_last_age_);
    Log(Priority::kWarning, "connection_evicted",
        {{"peer", evicted_last_peer_},
         {"reason", "table full, handshake not finished"},
         {"evicted", std::to_string(evicted->events)},
         {"age_ms", std::to_string(age.count())}});
  }
}

}  // namespace provisiond
