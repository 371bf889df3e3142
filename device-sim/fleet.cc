// fleet.cc — worker threads for a planned run, the progress callback and the merged report.
#include "device-sim/fleet.h"

#include <mbedtls/ssl_ciphersuites.h>
#include <sys/resource.h>

#include <algorithm>
#include <condition_variable>
#include <limits>
#include <memory>
#include <mutex>
#include <thread>

#include "device-sim/slow_fleet.h"
#include "device-sim/worker.h"

namespace devsim {
namespace {

constexpr auto kProgressInterval = std::chrono::milliseconds(250);
// The fleet starts once the --slow connections are open, or after this long regardless.
constexpr auto kSlowOpenLimit = std::chrono::seconds(30);

double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

Progress Snapshot(const SharedRun& shared, uint64_t total) {
  Progress p;
  p.total = total;
  for (size_t i = 0; i < kScenarioCount; ++i) {
    p.done += shared.done[i].load();
    p.failed[i] = shared.failed[i].load();
  }
  p.in_flight = shared.in_flight.load();
  p.elapsed_seconds = std::chrono::duration<double>(Clock::now() - shared.start).count();
  return p;
}

// Runs each worker on its own thread, calling on_progress from this one until all are done.
// Returns when the last worker finished (not the next progress tick).
Clock::time_point RunWorkers(std::vector<std::unique_ptr<Worker>>& workers, const SharedRun& shared,
                             uint64_t total,
                             const std::function<void(const Progress&)>& on_progress) {
  std::mutex mutex;
  std::condition_variable finished;
  int running = static_cast<int>(workers.size());
  Clock::time_point end = shared.start;
  {
    std::vector<std::jthread> threads;
    for (auto& worker : workers) {
      threads.emplace_back([&, w = worker.get()] {
        w->Run();
        std::lock_guard lock(mutex);
        --running;
        end = std::max(end, Clock::now());
        finished.notify_all();
      });
    }
    std::unique_lock lock(mutex);
    while (!finished.wait_for(lock, kProgressInterval, [&] { return running == 0; })) {
      lock.unlock();
      if (on_progress) on_progress(Snapshot(shared, total));
      lock.lock();
    }
  }  // jthreads join here
  return end;
}

// --prepare-keys: every worker makes its devices' keys and CSRs, each on its own thread.
base::Result<void> PrepareAll(std::vector<std::unique_ptr<Worker>>& workers) {
  std::vector<base::Result<void>> results(workers.size());
  {
    std::vector<std::jthread> threads;
    for (size_t i = 0; i < workers.size(); ++i) {
      threads.emplace_back([&, i] { results[i] = workers[i]->PrepareDevices(); });
    }
  }  // jthreads join here
  for (auto& result : results) {
    if (!result) return result;
  }
  return {};
}

}  // namespace

base::Result<FleetReport> RunFleet(const FleetOptions& options,
                                   const std::function<void(const Progress&)>& on_progress,
                                   const std::atomic<bool>* interrupted) {
  auto plan = MakePlan(options);
  if (!plan) return std::unexpected(plan.error());
  RaiseFileLimit();  // --concurrency and --slow hold one descriptor each
  // mbedTLS fills its ciphersuite table lazily and without a lock on first use; do that here,
  // before any worker calls mbedtls_ssl_config_defaults.
  (void)mbedtls_ssl_list_ciphersuites();

  double cpu_before = CpuSeconds();
  std::unique_ptr<SlowFleet> slow;
  int slow_open_at_start = 0;
  double slow_open_seconds = 0;
  if (plan->slow > 0) {
    auto created = SlowFleet::Create(*plan);
    if (!created) return std::unexpected(created.error());
    slow = std::move(*created);
    const Clock::time_point opening = Clock::now();
    slow->Start();
    slow_open_at_start = slow->WaitOpen(kSlowOpenLimit);
    slow_open_seconds = std::chrono::duration<double>(Clock::now() - opening).count();
  }
  SharedRun shared(*plan, Clock::now());
  shared.interrupted = interrupted;
  // Workers are built up front so a set-up failure is one error, not N device failures.
  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < plan->threads; ++i) {
    auto worker = Worker::Create(shared, i);
    if (!worker) return std::unexpected(worker.error());
    workers.push_back(std::move(*worker));
  }
  if (plan->prepare_keys) {
    if (auto prepared = PrepareAll(workers); !prepared) return std::unexpected(prepared.error());
    shared.Restart(Clock::now());  // the clock (and the CPU count) start once keys are made
    cpu_before = CpuSeconds();
  }
  const uint64_t total =
      plan->max_slots == std::numeric_limits<uint64_t>::max() ? 0 : plan->max_slots;
  const Clock::time_point end = RunWorkers(workers, shared, total, on_progress);
  if (slow) slow->Stop();

  FleetReport report;
  report.options = options;
  report.threads = plan->threads;
  report.planned = total;
  report.elapsed_seconds = std::chrono::duration<double>(end - shared.start).count();
  report.cpu_seconds = CpuSeconds() - cpu_before;
  report.timeline = shared.timeline.Snapshot();
  for (auto& worker : workers) {
    report.tally.Merge(std::move(worker->tally()), plan->max_failures_listed);
  }
  if (slow) {
    RunTally slow_tally;
    slow_tally.slow = std::move(slow->tally());
    report.tally.Merge(std::move(slow_tally), plan->max_failures_listed);
    report.slow_open_at_start = slow_open_at_start;
    report.slow_open_seconds = slow_open_seconds;
  }
  return report;
}

}  // namespace devsim
