// run_plan.h — a fleet run's options; the plan resolved from them once before any thread starts
// (device selection, how many enrollments, whether devices are reused, server address, PEM
// material), read-only afterwards and shared by the workers; and SharedRun, the few counters the
// workers update together.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "device-sim/bad_actors.h"
#include "device-sim/est_messages.h"
#include "device-sim/mix.h"
#include "device-sim/retry.h"
#include "device-sim/timeline.h"
#include "device-sim/socket_util.h"
#include "device-sim/tls_client.h"
#include "device-sim/token_bucket.h"

namespace devsim {

using Clock = std::chrono::steady_clock;

struct FleetOptions {
  EstOperation op = EstOperation::kEnroll;
  std::string fleet_dir;
  std::vector<std::string> devices;  // empty: every directory under DIR/devices, sorted by name
  uint64_t count = 0;        // enrollments to run; 0: one per selected device (or open-ended
                             // with duration when devices may be reused)
  int concurrency = 4;       // enrollments in flight
  int threads = 0;           // event-loop threads; 0: one per CPU (never more than concurrency)
  double rate = 0;           // enrollment starts per second, whole fleet; 0: unlimited
  double duration = 0;       // seconds after which no enrollment starts; 0: no limit
  bool allow_reuse = false;  // enroll: let --count exceed the devices (see README)
  MixWeights mix = kDefaultMix;
  int slow = 0;                // slowloris connections kept open for the whole run
  double slow_interval = 1.0;  // seconds between two bytes of a slow connection
  int slow_nice = 19;          // nice value of the slowloris thread (see slow_fleet.h)
  double step_timeout = 30;    // seconds per step: connect, handshake, each request
  int max_retries = kDefaultMaxRetries;
  bool retry_connections = false;  // also retry refused/reset/timed-out connects and handshakes
  bool prepare_keys = false;  // make every device's key and CSR before the clock starts
  std::string host;
  std::string port;
  TlsSettings tls;
  std::string label;
  std::string ca_bundle_path;
  // Learn a rolled-over CA's new root from cacerts through its NewWithOld link; append it here.
  std::string follow_rollover;
};

struct RunPlan {
  EstOperation op = EstOperation::kEnroll;
  std::string fleet_dir;
  std::vector<std::string> devices;  // the selection; worker t takes indices i % threads == t
  uint64_t max_slots = 0;            // enrollments to start at most (UINT64_MAX: until stopped)
  bool cycle_devices = false;        // devices are used round-robin, more than once
  bool keep_for_replay = false;      // the mix has replay: keep enrolled devices to replay
  int threads = 1;
  int concurrency = 1;
  ServerAddress server;
  TlsSettings tls;
  EstTarget target;
  std::string ca_bundle_pem;
  std::optional<PemIdentity> rogue_ca;    // when the mix has rogue-ca
  std::optional<PemIdentity> factory_ca;  // when the mix has expired (DIR/factory-ca.{crt,key})
  MixSchedule schedule{kDefaultMix};
  Clock::duration step_timeout{};
  int max_retries = kDefaultMaxRetries;
  bool retry_connections = false;  // also retry refused/reset/timed-out connects and handshakes
  std::string follow_rollover;     // FleetOptions::follow_rollover
  bool prepare_keys = false;       // keys, CSRs and credentials made before the clock starts
  int slow = 0;
  Clock::duration slow_interval{};
  int slow_nice = 19;
  std::optional<Clock::duration> duration;
  double rate = 0;
  size_t max_failures_listed = 1000;
};

// --rate: "50", "50/s", "3000/m" or "100000/h" -> enrollment starts per second (0: no limit).
// --duration: "90", "90s", "5m" or "2h" -> seconds. kInvalidArgument with the text otherwise.
base::Result<double> ParseRate(std::string_view text);
base::Result<double> ParseSeconds(std::string_view text);

// The devices a run will visit: options.devices, or every directory under DIR/devices. kIo if
// DIR/devices cannot be listed; kInvalidArgument if the selection is empty or holds an id that
// is not a usable directory name.
base::Result<std::vector<std::string>> SelectDevices(const FleetOptions& options);

// Resolves everything a run needs. kInvalidArgument for contradictory options (e.g. --count
// above the fleet size for enroll without --allow-reuse, replay in reenroll), kIo/kMalformed for
// unreadable files, an unparsable bundle or an unknown host.
base::Result<RunPlan> MakePlan(const FleetOptions& options);

// Counters every worker reads and updates.
struct SharedRun {
  SharedRun(const RunPlan& plan, Clock::time_point start);

  // Claims the next enrollment slot; nullopt once max_slots are claimed.
  std::optional<uint64_t> ClaimSlot();
  // Takes a --rate token: nullopt if taken (or no rate limit), else how long until one accrues.
  std::optional<Clock::duration> TakeToken(Clock::time_point now);

  // Starts the run's clock again (the timeline's too): once the workers are ready, before any
  // of them runs.
  void Restart(Clock::time_point now);

  const RunPlan& plan;
  Clock::time_point start;
  const std::atomic<bool>* interrupted = nullptr;  // set from a signal handler (SIGINT)
  std::atomic<uint64_t> next_slot{0};
  std::atomic<bool> stop{false};  // no new enrollments: duration over or interrupted
  std::atomic<int64_t> in_flight{0};
  std::array<std::atomic<uint64_t>, kScenarioCount> done{};
  std::array<std::atomic<uint64_t>, kScenarioCount> failed{};
  Timeline timeline{start};  // per-second counts for --json (timeline.h)

 private:
  std::mutex bucket_mutex_;
  std::optional<TokenBucket> bucket_;
};

}  // namespace devsim
