// fleet.cc — device selection, the worker pool and the run summary.
#include "device-sim/fleet.h"

#include <mbedtls/ssl_ciphersuites.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <thread>

#include "device-sim/enrollment.h"
#include "device-sim/file_util.h"
#include "device-sim/layout.h"

namespace devsim {
namespace {

constexpr size_t kMaxCaBundle = 1024 * 1024;

ca::Result<std::vector<std::string>> ListDevices(const std::string& fleet_dir) {
  const std::string dir = DevicesDir(fleet_dir);
  std::error_code ec;
  std::vector<std::string> ids;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code type_ec;
    std::string name = it->path().filename().string();
    // Hidden entries are never devices (editor and tool droppings).
    if (it->is_directory(type_ec) && !name.starts_with('.')) ids.push_back(std::move(name));
  }
  if (ec) return ca::Fail(ca::Code::kIo, "cannot list " + dir + ": " + ec.message());
  std::ranges::sort(ids);
  return ids;
}

}  // namespace

int FleetReport::ok() const {
  return static_cast<int>(
      std::ranges::count_if(outcomes, [](const DeviceOutcome& o) { return o.failure.empty(); }));
}

int FleetReport::failed() const { return static_cast<int>(outcomes.size()) - ok(); }

ca::Result<std::vector<std::string>> SelectDevices(const FleetOptions& options) {
  std::vector<std::string> ids = options.devices;
  if (ids.empty()) {
    auto listed = ListDevices(options.fleet_dir);
    if (!listed) return listed;
    ids = std::move(*listed);
  }
  if (options.count > 0 && ids.size() > static_cast<size_t>(options.count)) {
    ids.resize(static_cast<size_t>(options.count));
  }
  if (ids.empty()) {
    return ca::Fail(ca::Code::kInvalidArgument, "no devices in " + DevicesDir(options.fleet_dir));
  }
  for (const std::string& id : ids) {
    if (!IsUsableDeviceId(id)) {
      return ca::Fail(ca::Code::kInvalidArgument, "not a usable device id: '" + id + "'");
    }
  }
  return ids;
}

ca::Result<FleetReport> RunFleet(const FleetOptions& options) {
  auto ids = SelectDevices(options);
  if (!ids) return std::unexpected(ids.error());
  auto bundle = ReadFile(options.ca_bundle_path, kMaxCaBundle);
  if (!bundle) return std::unexpected(bundle.error());

  // Clients are built up front so a bad bundle or seeding failure is a setup error, not N
  // identical device failures.
  const size_t workers =
      std::clamp<size_t>(static_cast<size_t>(options.concurrency), 1, ids->size());
  std::vector<std::unique_ptr<EstClient>> clients;
  for (size_t i = 0; i < workers; ++i) {
    auto client = EstClient::Create(options.est, *bundle);
    if (!client) {
      return ca::Fail(client.error().code, options.ca_bundle_path + ": " + client.error().detail);
    }
    clients.push_back(std::move(*client));
  }

  // mbedTLS fills its ciphersuite table lazily and without a lock on first use; do that here,
  // before any worker calls mbedtls_ssl_config_defaults.
  (void)mbedtls_ssl_list_ciphersuites();

  FleetReport report;
  report.outcomes.resize(ids->size());
  std::atomic<size_t> next{0};
  const auto start = std::chrono::steady_clock::now();
  {
    std::vector<std::jthread> threads;
    for (auto& client : clients) {
      threads.emplace_back([&, client = client.get()] {
        // Each index is taken by exactly one thread, so its outcome slot needs no lock.
        for (size_t i; (i = next.fetch_add(1)) < ids->size();) {
          const std::string& id = (*ids)[i];
          auto result = EnrollDevice(*client, options.op, options.fleet_dir, id);
          report.outcomes[i] = {id, result ? std::string() : result.error().detail};
        }
      });
    }
  }  // jthreads join here
  report.elapsed_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

std::string FormatSummary(std::string_view command, const FleetReport& report) {
  const int ok = report.ok();
  const double rate = report.elapsed_seconds > 0 ? ok / report.elapsed_seconds : 0.0;
  char head[160];
  std::snprintf(head, sizeof head, ": ok=%d failed=%d elapsed=%.2fs rate=%.1f/s\n", ok,
                report.failed(), report.elapsed_seconds, rate);
  std::string out = std::string(command) + head;

  std::map<std::string, int> by_reason;
  for (const DeviceOutcome& o : report.outcomes) {
    if (!o.failure.empty()) ++by_reason[o.failure];
  }
  std::vector<std::pair<std::string, int>> reasons(by_reason.begin(), by_reason.end());
  std::ranges::stable_sort(reasons,
                           [](const auto& a, const auto& b) { return a.second > b.second; });
  for (const auto& [reason, count] : reasons) {
    out += "  failed " + std::to_string(count) + ": " + reason + "\n";
  }
  return out;
}

std::string FormatFailures(const FleetReport& report) {
  std::string out;
  for (const DeviceOutcome& o : report.outcomes) {
    if (!o.failure.empty()) out += "device " + o.id + ": " + o.failure + "\n";
  }
  return out;
}

}  // namespace devsim
