// tally.cc — totals and merging for tally.h.
#include "device-sim/tally.h"

namespace devsim {

const char* SlowModeName(SlowMode mode) { return mode == SlowMode::kHello ? "hello" : "header"; }

uint64_t RunTally::ok() const {
  uint64_t total = 0;
  for (const ScenarioTally& s : scenarios) total += s.ok;
  return total;
}

uint64_t RunTally::failed() const {
  uint64_t total = 0;
  for (const ScenarioTally& s : scenarios) total += s.failed;
  return total;
}

void RunTally::AddFailure(DeviceFailure failure, size_t cap) {
  if (failures.size() < cap) {
    failures.push_back(std::move(failure));
  } else {
    ++failures_not_listed;
  }
}

void RunTally::Merge(RunTally&& other, size_t cap) {
  for (size_t i = 0; i < kScenarioCount; ++i) {
    ScenarioTally& to = scenarios[i];
    ScenarioTally& from = other.scenarios[i];
    to.ok += from.ok;
    to.failed += from.failed;
    to.retries += from.retries;
    for (const auto& [text, count] : from.unexpected) to.unexpected[text] += count;
    to.latency.Merge(from.latency);
  }
  replay_setups += other.replay_setups;
  for (DeviceFailure& f : other.failures) AddFailure(std::move(f), cap);
  failures_not_listed += other.failures_not_listed;
  for (size_t m = 0; m < kSlowModes; ++m) {
    SlowTally& to = slow[m];
    SlowTally& from = other.slow[m];
    to.opened += from.opened;
    to.closed_by_server += from.closed_by_server;
    to.failed += from.failed;
    to.still_open += from.still_open;
    to.bytes_sent += from.bytes_sent;
    to.lifetime.Merge(from.lifetime);
    for (const auto& [text, count] : from.failures) to.failures[text] += count;
  }
}

}  // namespace devsim
