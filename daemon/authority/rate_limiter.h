// rate_limiter.h — token buckets keyed by a string (a bootstrap fingerprint, a source address),
// shared by all workers. Over the limit, the caller answers 429 with Retry-After so a fleet backs
// off instead of hammering. Memory is bounded: full (idle) buckets are dropped when the map grows.
// Reads no clock: the caller passes the time (the authority's TimeSource::Steady).
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/error.h"
#include "daemon/authority/policy.h"

namespace provisiond {

// "90s", "15m", "12h", "30d" -> seconds. kInvalidArgument otherwise.
base::Result<std::chrono::seconds> ParseDuration(std::string_view text);

// "10/1m", "5/1h", "100/30s", "off". kInvalidArgument otherwise.
base::Result<RateSpec> ParseRateSpec(std::string_view text);

class RateLimiter {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  explicit RateLimiter(RateSpec spec, size_t max_keys = 100000) : spec_(spec), max_keys_(max_keys) {}

  // Takes a token for key. Returns nullopt if allowed, else the whole seconds until one is back.
  std::optional<int> Take(std::string_view key, TimePoint now);
  // How many keys have a bucket now (bounded by max_keys + 1 whatever the traffic).
  size_t tracked_keys() {
    std::lock_guard lock(mu_);
    return buckets_.size();
  }

 private:
  struct Bucket {
    double tokens;
    TimePoint last;
  };
  void Refill(Bucket& b, TimePoint now) const;
  void Prune(TimePoint now);

  RateSpec spec_;
  size_t max_keys_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace provisiond
