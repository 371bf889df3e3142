// tally.h — what a fleet run counts: per scenario class ok (the expected outcome) / failed (any
// other), the unexpected outcomes by text, latencies and retries; the devices that failed; the
// fate of the slow connections. Each worker keeps its own; the run merges them at the end.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "device-sim/mix.h"
#include "device-sim/stats.h"

namespace devsim {

struct ScenarioTally {
  uint64_t ok = 0;
  uint64_t failed = 0;
  uint64_t retries = 0;                        // 503/429 retries taken
  std::map<std::string, uint64_t> unexpected;  // Describe(outcome) -> count
  LatencyStats latency;                        // ms, first connect to final outcome
};

struct DeviceFailure {
  std::string device_id;
  Scenario scenario;
  std::string reason;
};

enum class SlowMode { kHello, kHeader };
inline constexpr size_t kSlowModes = 2;
// "hello" (a TLS ClientHello, one byte per interval) / "header" (after the handshake, an HTTP
// request header, one byte per interval).
const char* SlowModeName(SlowMode mode);

struct SlowTally {
  uint64_t opened = 0;
  uint64_t closed_by_server = 0;
  uint64_t failed = 0;      // could not connect or complete the handshake (header mode)
  uint64_t still_open = 0;  // when the run ended
  uint64_t bytes_sent = 0;  // by the connections the server closed, in total
  LatencyStats lifetime;    // ms from connect to the server's close
  std::map<std::string, uint64_t> failures;
};

struct RunTally {
  std::array<ScenarioTally, kScenarioCount> scenarios;
  uint64_t replay_setups = 0;  // normal enrollments made so a replay had a device to replay
  std::vector<DeviceFailure> failures;  // at most the cap given to Merge/Add
  uint64_t failures_not_listed = 0;
  std::array<SlowTally, kSlowModes> slow;

  uint64_t ok() const;
  uint64_t failed() const;
  // Adds a failure line unless `cap` lines are already listed (then it is only counted).
  void AddFailure(DeviceFailure failure, size_t cap);
  void Merge(RunTally&& other, size_t cap);
};

}  // namespace devsim
