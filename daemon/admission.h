// admission.h — what decides, at accept, whether a new connection may take a place in the
// connection table: the daemon-wide count, the count per source address (shared by every
// worker), and each worker's queue of connections that have not finished their TLS handshake.
#pragma once

#include <sys/socket.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <iterator>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "daemon/config.h"
#include "daemon/heap_return.h"

namespace provisiond {

// The --max-connections-per-source in force: the configured value, or for 0 (auto) a tenth of
// --max-connections but at least 16 (or the whole table if it is smaller than 16).
int PerSourceLimit(const Limits& limits);

// Connections open per source, daemon-wide. A source is an IPv4 address (an IPv4-mapped IPv6
// address counts as its IPv4 address) or an IPv6 /64 (one host usually holds a whole /64).
// Thread-safe: 16 shards, each a mutex and a hash map keyed with a per-process random seed. A
// source has an entry only while it holds a connection, so there are never more entries than
// connections in the table.
class SourceTable {
 public:
  using Key = std::array<uint8_t, 17>;  // [0] = 4 or 6, then the address (or /64) bytes
  static Key KeyOf(const sockaddr_storage& address);

  SourceTable();
  // Counts one more connection for `key` unless it already holds `limit`: false then.
  bool Acquire(const Key& key, int limit);
  // One connection of `key` closed.
  void Release(const Key& key);
  int Count(const Key& key) const;
  size_t Sources() const;  // entries held now

 private:
  struct Hash {
    uint64_t seed;
    size_t operator()(const Key& key) const;
  };
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<Key, int, Hash> counts;
  };
  Shard& ShardOf(const Key& key) const;
  const uint64_t seed_;
  mutable std::array<Shard, 16> shards_;
};

// What every worker shares about the connection table.
struct ConnectionTable {
  std::atomic<int> open{0};  // connections held, all workers (bounded by --max-connections)
  SourceTable sources;
  // Accepts that found the table full while their own worker held no connection old enough to
  // evict: each was admitted (the table is over by one until then) and another worker evicts
  // its oldest on its next turn (at most 100 ms). At most kMaxEvictRequests at once, so the
  // table never holds more than --max-connections + kMaxEvictRequests.
  std::atomic<int> evict_requests{0};
  // Every worker's HandshakeQueue size, summed (a queue's stale entries count until its next
  // sweep): whether another worker may hold a connection to evict.
  std::atomic<int> handshaking{0};
  static constexpr int kMaxEvictRequests = 64;
  // Closes noted here; a sweep that finds the table drained after a burst returns free heap.
  HeapReturn heap_return;
};

// One worker's connections that have not finished their TLS handshake, in two queues in arrival
// order: silent ones (not a byte read yet: no TLS session, or a PROXY header not read) and
// started ones (a TLS session under way). Eviction takes the oldest silent one first, then the
// oldest started one: a device sends its ClientHello as soon as it connects, so while older
// silent connections are held it is not the one evicted. Entries are pushed at accept; one that
// started is moved when met, one whose connection finished its handshake or closed is dropped
// when met (PopOldest) or by Compact (each sweep), so neither queue holds more than the
// connections accepted within one handshake timeout.
class HandshakeQueue {
 public:
  struct Entry {
    int fd;
    uint64_t id;
    std::chrono::steady_clock::time_point accepted;
  };
  enum class State { kGone, kStarted, kSilent };  // what the entry's connection is now

  void Push(Entry entry) { silent_.push_back(entry); }
  // The entry to evict: the oldest silent one accepted no later than `silent_by`, else the
  // oldest started one accepted no later than `started_by` (state_of(fd, id) says which each is
  // now); nullopt if there is none. A started handshake has cost the server its work already,
  // so it is given longer (a storm fills the table with them: evicting them at the silent
  // cutoff throws that work away and nothing finishes).
  template <typename StateOf>
  std::optional<Entry> PopOldest(StateOf state_of,
                                 std::chrono::steady_clock::time_point silent_by =
                                     std::chrono::steady_clock::time_point::max(),
                                 std::chrono::steady_clock::time_point started_by =
                                     std::chrono::steady_clock::time_point::max()) {
    while (!silent_.empty()) {
      Entry e = silent_.front();
      State state = state_of(e.fd, e.id);
      if (state == State::kSilent && e.accepted > silent_by) break;  // and all behind it
      silent_.pop_front();
      if (state == State::kSilent) return e;
      if (state == State::kStarted) AddStarted(e);
    }
    while (!started_.empty()) {
      Entry e = started_.front();
      const bool gone = state_of(e.fd, e.id) == State::kGone;
      if (!gone && e.accepted > started_by) break;
      started_.pop_front();
      if (!gone) return e;
    }
    return std::nullopt;
  }
  // The newest silent entry (state_of as for PopOldest), removed; nullopt if none. For a table
  // full of young connections: an attacker that reopens at once has always a newer one than a
  // device whose ClientHello is still on its way.
  template <typename StateOf>
  std::optional<Entry> PopNewestSilent(StateOf state_of) {
    for (auto it = silent_.end(); it != silent_.begin();) {
      --it;
      if (state_of(it->fd, it->id) == State::kSilent) {
        Entry e = *it;
        silent_.erase(it);
        return e;
      }
    }
    return std::nullopt;
  }
  // Drops every entry gone and moves every started one to its queue.
  template <typename StateOf>
  void Compact(StateOf state_of) {
    std::deque<Entry> silent;
    for (const Entry& e : silent_) {
      State state = state_of(e.fd, e.id);
      if (state == State::kSilent) silent.push_back(e);
      if (state == State::kStarted) AddStarted(e);
    }
    silent_.swap(silent);
    std::erase_if(started_, [&](const Entry& e) { return state_of(e.fd, e.id) == State::kGone; });
  }
  size_t size() const { return silent_.size() + started_.size(); }

 private:
  void AddStarted(const Entry& e) {  // in arrival order; nearly always at the end
    auto it = started_.end();
    while (it != started_.begin() && std::prev(it)->accepted > e.accepted) --it;
    started_.insert(it, e);
  }
  std::deque<Entry> silent_, started_;
};

}  // namespace provisiond
