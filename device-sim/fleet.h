// fleet.h — runs enroll/reenroll for many devices on a pool of worker threads and summarises the
// outcome for people and scripts.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "ca/error.h"
#include "device-sim/est_client.h"

namespace devsim {

struct FleetOptions {
  EstOperation op = EstOperation::kEnroll;
  std::string fleet_dir;
  std::vector<std::string> devices;  // empty: every directory under DIR/devices, sorted by name
  int count = 0;                     // > 0: only the first `count` selected devices
  int concurrency = 4;
  EstSettings est;
  std::string ca_bundle_path;
};

struct DeviceOutcome {
  std::string id;
  std::string failure;  // empty on success
};

struct FleetReport {
  std::vector<DeviceOutcome> outcomes;  // in selection order
  double elapsed_seconds = 0;
  int ok() const;
  int failed() const;
};

// The devices a run will visit, per FleetOptions::devices and count. kIo if DIR/devices cannot be
// listed; kInvalidArgument if the selection is empty.
ca::Result<std::vector<std::string>> SelectDevices(const FleetOptions& options);

// Selects the devices and runs them on `concurrency` threads, each with its own EstClient.
// Per-device failures are outcomes, not errors; errors are setup problems (unreadable or empty
// CA bundle, no devices, DRBG seeding).
ca::Result<FleetReport> RunFleet(const FleetOptions& options);

// Stdout summary: "<command>: ok=<n> failed=<m> elapsed=<s.ss>s rate=<r.r>/s" (rate = successful
// devices per second), then "  failed <count>: <reason>" per distinct reason, most frequent first.
std::string FormatSummary(std::string_view command, const FleetReport& report);

// Stderr detail: "device <id>: <reason>" per failed device, in selection order.
std::string FormatFailures(const FleetReport& report);

}  // namespace devsim
