// run_plan.cc — device selection, the count/reuse rules and setup material for a fleet run.
#include "device-sim/run_plan.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <limits>
#include <thread>

#include "ca/cert.h"
#include "ca/rng.h"
#include "device-sim/file_util.h"
#include "device-sim/layout.h"

namespace devsim {
namespace {

constexpr size_t kMaxPemFile = 1024 * 1024;

base::Result<std::vector<std::string>> ListDevices(const std::string& fleet_dir) {
  const std::string dir = DevicesDir(fleet_dir);
  std::error_code ec;
  std::vector<std::string> ids;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code type_ec;
    std::string name = it->path().filename().string();
    // Hidden entries are never devices (editor and tool droppings).
    if (it->is_directory(type_ec) && !name.starts_with('.')) ids.push_back(std::move(name));
  }
  if (ec) return base::Fail(base::Code::kIo, "cannot list " + dir + ": " + ec.message());
  std::ranges::sort(ids);
  return ids;
}

// --count, --duration and reuse: how many slots, and whether devices come round again.
base::Result<void> PlanSlots(const FleetOptions& options, RunPlan& plan) {
  const bool reuse_ok = options.op == EstOperation::kReenroll || options.allow_reuse;
  const uint64_t fleet = plan.devices.size();
  if (options.count == 0) {
    plan.cycle_devices = options.duration > 0 && reuse_ok;
    plan.max_slots = plan.cycle_devices ? std::numeric_limits<uint64_t>::max() : fleet;
    return {};
  }
  if (options.count <= fleet) {
    plan.devices.resize(options.count);  // the first N selected devices, as before
    plan.max_slots = options.count;
    return {};
  }
  if (!reuse_ok) {
    return base::Fail(base::Code::kInvalidArgument,
                      "--count " + std::to_string(options.count) + " exceeds the " +
                          std::to_string(fleet) +
                          " devices selected; enroll uses each device once (a second enrollment "
                          "with a new key is refused by the server), pass --allow-reuse to reuse "
                          "devices round-robin");
  }
  plan.cycle_devices = true;
  plan.max_slots = options.count;
  return {};
}

// The rogue CA (made here, once) and the factory CA (read from the fleet) when the mix needs them.
base::Result<void> PlanBadActors(const FleetOptions& options, RunPlan& plan) {
  if (options.mix[Index(Scenario::kRogueCa)] > 0) {
    auto drbg = ca::Drbg::FromSystemEntropy();
    if (!drbg) return std::unexpected(ca::ToBaseError(drbg.error()));
    auto rogue = MakeRogueCa(static_cast<base::UnixTime>(std::time(nullptr)), (*drbg)->rng());
    if (!rogue) return std::unexpected(ca::ToBaseError(rogue.error()));
    plan.rogue_ca = std::move(*rogue);
  }
  if (options.mix[Index(Scenario::kExpired)] > 0) {
    auto cert = ReadFile(JoinPath(options.fleet_dir, kFactoryCaCert), kMaxPemFile);
    auto key = cert ? ReadFile(JoinPath(options.fleet_dir, kFactoryCaKey), kMaxPemFile) : cert;
    if (!key) {
      return base::Fail(key.error().code, "expired needs the factory CA: " + key.error().detail);
    }
    plan.factory_ca = PemIdentity{std::move(*cert), std::move(*key)};
  }
  return {};
}

// "<number><unit>" with the unit looked up in `units` (suffix -> factor); "" is a unit too.
base::Result<double> NumberWithUnit(
    std::string_view text, std::string_view what,
    std::initializer_list<std::pair<std::string_view, double>> units, std::string_view expected) {
  for (const auto& [suffix, factor] : units) {
    if (!text.ends_with(suffix)) continue;
    const std::string_view number = text.substr(0, text.size() - suffix.size());
    double value = 0;
    auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
    if (number.empty() || ec != std::errc() || end != number.data() + number.size() ||
        !std::isfinite(value) || value < 0) {
      break;
    }
    return value * factor;
  }
  return base::Fail(base::Code::kInvalidArgument, std::string(what) + " '" + std::string(text) +
                                                      "': want " + std::string(expected));
}

}  // namespace

base::Result<double> ParseRate(std::string_view text) {
  // Longest suffixes first: "" matches everything.
  return NumberWithUnit(text, "--rate", {{"/s", 1.0}, {"/m", 1 / 60.0}, {"/h", 1 / 3600.0}, {"", 1.0}},
                        "N, N/s, N/m or N/h");
}

base::Result<double> ParseSeconds(std::string_view text) {
  return NumberWithUnit(text, "--duration", {{"s", 1.0}, {"m", 60.0}, {"h", 3600.0}, {"", 1.0}},
                        "N (seconds), Ns, Nm or Nh");
}

base::Result<std::vector<std::string>> SelectDevices(const FleetOptions& options) {
  std::vector<std::string> ids = options.devices;
  if (ids.empty()) {
    auto listed = ListDevices(options.fleet_dir);
    if (!listed) return listed;
    ids = std::move(*listed);
  }
  if (ids.empty()) {
    return base::Fail(base::Code::kInvalidArgument,
                      "no devices in " + DevicesDir(options.fleet_dir));
  }
  for (const std::string& id : ids) {
    if (!IsUsableDeviceId(id)) {
      return base::Fail(base::Code::kInvalidArgument, "not a usable device id: '" + id + "'");
    }
  }
  return ids;
}

base::Result<RunPlan> MakePlan(const FleetOptions& options) {
  if (options.op == EstOperation::kReenroll && options.mix[Index(Scenario::kReplay)] > 0) {
    return base::Fail(
        base::Code::kInvalidArgument,
        "replay is an enroll scenario (renewing with a new key is what reenroll does)");
  }
  RunPlan plan;
  plan.op = options.op;
  plan.fleet_dir = options.fleet_dir;
  auto devices = SelectDevices(options);
  if (!devices) return std::unexpected(devices.error());
  plan.devices = std::move(*devices);
  if (auto ok = PlanSlots(options, plan); !ok) return std::unexpected(ok.error());

  const unsigned cpus = std::max(1u, std::thread::hardware_concurrency());
  int threads = options.threads > 0 ? options.threads : static_cast<int>(cpus);
  threads = std::min(threads, std::max(1, options.concurrency));
  if (!plan.cycle_devices) threads = std::min<int>(threads, static_cast<int>(plan.devices.size()));
  plan.threads = std::max(1, threads);
  plan.concurrency = std::max(plan.threads, options.concurrency);

  auto server = ResolveServer(options.host, options.port);
  if (!server) return std::unexpected(server.error());
  plan.server = std::move(*server);
  plan.tls = options.tls;
  plan.target = EstTarget{options.tls.server_name + ":" + options.port, options.label};
  auto bundle = ReadFile(options.ca_bundle_path, kMaxPemFile);
  if (!bundle) return std::unexpected(bundle.error());
  if (auto parsed = ca::ParseCertificates(*bundle); !parsed) {
    return base::Fail(ca::ToBaseError(parsed.error()).code,
                      options.ca_bundle_path + ": " + parsed.error().detail);
  }
  plan.ca_bundle_pem = std::move(*bundle);
  if (auto ok = PlanBadActors(options, plan); !ok) return std::unexpected(ok.error());

  plan.schedule = MixSchedule(options.mix);
  plan.keep_for_replay = options.mix[Index(Scenario::kReplay)] > 0;
  auto seconds = [](double s) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
  };
  plan.step_timeout = seconds(options.step_timeout);
  plan.max_retries = options.max_retries;
  plan.retry_connections = options.retry_connections;
  plan.follow_rollover = options.follow_rollover;
  plan.prepare_keys = options.prepare_keys;
  plan.slow = options.slow;
  plan.slow_interval = seconds(options.slow_interval);
  plan.slow_nice = options.slow_nice;
  if (options.duration > 0) plan.duration = seconds(options.duration);
  plan.rate = options.rate;
  return plan;
}

SharedRun::SharedRun(const RunPlan& run_plan, Clock::time_point start_time)
    : plan(run_plan), start(start_time) {
  if (plan.rate > 0) bucket_.emplace(plan.rate, DefaultBurst(plan.rate), 0.0);
}

void SharedRun::Restart(Clock::time_point now) {
  start = now;
  timeline.Restart(now);
}

std::optional<uint64_t> SharedRun::ClaimSlot() {
  uint64_t slot = next_slot.load(std::memory_order_relaxed);
  do {
    if (slot >= plan.max_slots) return std::nullopt;
  } while (!next_slot.compare_exchange_weak(slot, slot + 1, std::memory_order_relaxed));
  return slot;
}

std::optional<Clock::duration> SharedRun::TakeToken(Clock::time_point now) {
  if (!bucket_) return std::nullopt;
  const double t = std::chrono::duration<double>(now - start).count();
  std::lock_guard lock(bucket_mutex_);
  if (bucket_->TryTake(t)) return std::nullopt;
  return std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(bucket_->WaitSeconds(t)));
}

}  // namespace devsim
