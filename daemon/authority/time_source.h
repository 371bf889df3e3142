// time_source.h — the authority's only clock: wall time (validity, the renewal window, record
// and event times) and a monotonic time for the rate limiters. The daemon passes
// TimeSource::System(); tests pass a fake they move by hand.
#pragma once

#include <chrono>

#include "base/types.h"

namespace provisiond {

class TimeSource {
 public:
  using Monotonic = std::chrono::steady_clock::time_point;
  virtual ~TimeSource() = default;
  // Seconds since the Unix epoch, UTC. Thread-safe.
  virtual base::UnixTime Now() const = 0;
  // For intervals only (rate-limit buckets): never steps back. Thread-safe.
  virtual Monotonic Steady() const = 0;

  // The operating system's clocks (time(2), CLOCK_MONOTONIC); one instance for the process.
  static const TimeSource& System();
};

}  // namespace provisiond
