// admission.cc — the per-source connection count shared by every worker (see admission.h).
#include "daemon/admission.h"

#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <random>

namespace provisiond {

int PerSourceLimit(const Limits& limits) {
  if (limits.max_connections_per_source > 0) return limits.max_connections_per_source;
  return std::min(limits.max_connections, std::max(16, limits.max_connections / 10));
}

SourceTable::Key SourceTable::KeyOf(const sockaddr_storage& address) {
  Key key{};
  if (address.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(address);
    key[0] = 4;
    std::memcpy(&key[1], &v4.sin_addr, 4);
  } else if (address.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(address);
    if (IN6_IS_ADDR_V4MAPPED(&v6.sin6_addr)) {
      key[0] = 4;
      std::memcpy(&key[1], &v6.sin6_addr.s6_addr[12], 4);
    } else {
      key[0] = 6;
      std::memcpy(&key[1], &v6.sin6_addr, 8);  // the /64
    }
  }
  return key;  // any other family: one shared key (0) — the listener is TCP over IP only
}

SourceTable::SourceTable() : seed_(std::random_device{}() * 0x9E3779B97F4A7C15ull | 1) {
  for (auto& shard : shards_) shard.counts = std::unordered_map<Key, int, Hash>(16, Hash{seed_});
}

size_t SourceTable::Hash::operator()(const Key& key) const {
  uint64_t h = seed;
  for (uint8_t b : key) {
    h ^= b;
    h *= 0x100000001B3ull;
    h ^= h >> 29;
  }
  return static_cast<size_t>(h);
}

SourceTable::Shard& SourceTable::ShardOf(const Key& key) const {
  return shards_[Hash{seed_ ^ 0x5bd1e995}(key) % shards_.size()];
}

bool SourceTable::Acquire(const Key& key, int limit) {
  Shard& shard = ShardOf(key);
  std::lock_guard lock(shard.mu);
  auto [it, inserted] = shard.counts.try_emplace(key, 0);
  if (it->second >= limit) {
    if (inserted) shard.counts.erase(it);  // limit < 1: no entry is left behind
    return false;
  }
  ++it->second;
  return true;
}

void SourceTable::Release(const Key& key) {
  Shard& shard = ShardOf(key);
  std::lock_guard lock(shard.mu);
  auto it = shard.counts.find(key);
  if (it == shard.counts.end()) return;
  if (--it->second <= 0) shard.counts.erase(it);
}

int SourceTable::Count(const Key& key) const {
  Shard& shard = ShardOf(key);
  std::lock_guard lock(shard.mu);
  auto it = shard.counts.find(key);
  return it == shard.counts.end() ? 0 : it->second;
}

size_t SourceTable::Sources() const {
  size_t n = 0;
  for (auto& shard : shards_) {
    std::lock_guard lock(shard.mu);
    n += shard.counts.size();
  }
  return n;
}

}  // namespace provisiond
