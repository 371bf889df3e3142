// fleet.h — runs a fleet enroll/reenroll: plans it (run_plan.h), runs the event-loop workers
// (worker.h) and returns what happened per scenario class. Formatting is in report.h.
#pragma once

#include <atomic>
#include <functional>

#include "base/error.h"
#include "device-sim/run_plan.h"
#include "device-sim/tally.h"
#include "device-sim/timeline.h"

namespace devsim {

struct FleetReport {
  FleetOptions options;  // as run
  int threads = 0;
  uint64_t planned = 0;  // enrollments planned; 0 when open-ended (--duration, devices cycle)
  RunTally tally;
  double elapsed_seconds = 0;
  double cpu_seconds = 0;  // user + system time of the whole process during the run
  // --slow: how many slow connections were open when the fleet started, and how long opening
  // them took (the fleet waits for all of them, at most 30 s).
  int slow_open_at_start = 0;
  double slow_open_seconds = 0;
  Timeline::Counts timeline;  // per second since the start: issued, 503/429, connection retries
  uint64_t ok() const { return tally.ok(); }
  uint64_t failed() const { return tally.failed(); }
};

// A snapshot for the live progress line.
struct Progress {
  uint64_t done = 0;
  uint64_t total = 0;  // 0: open-ended
  int64_t in_flight = 0;
  double elapsed_seconds = 0;
  std::array<uint64_t, kScenarioCount> failed{};
};

// Plans the run and runs it on its worker threads. Per-enrollment failures are outcomes in the
// report, not errors; errors are set-up problems (bad options, unreadable bundle or fleet,
// unknown host, DRBG seeding). While it runs, on_progress (if set) is called about four times a
// second from the calling thread. *interrupted (if given) becoming true stops new enrollments.
base::Result<FleetReport> RunFleet(const FleetOptions& options,
                                   const std::function<void(const Progress&)>& on_progress,
                                   const std::atomic<bool>* interrupted);

}  // namespace devsim
