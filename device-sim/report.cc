// report.cc — the progress line, the summary table and the failure lines (see report.h).
#include "device-sim/report.h"

#include <cstdio>

#include "device-sim/outcome.h"

namespace devsim {
namespace {

std::string Printf(const char* format, auto... args) {
  char buf[512];
  std::snprintf(buf, sizeof buf, format, args...);
  return buf;
}

bool InReport(const FleetReport& report, Scenario s) {
  const ScenarioTally& t = report.tally.scenarios[Index(s)];
  return report.options.mix[Index(s)] > 0 || t.ok + t.failed > 0;
}

std::string TableRow(const char* name, uint64_t ok, uint64_t failed, double elapsed,
                     const LatencySummary& l, const std::string& expected) {
  const double rate = elapsed > 0 ? static_cast<double>(ok + failed) / elapsed : 0;
  std::string row = Printf(
      "  %-9s %8llu %7llu %8.1f %8.1f %8.1f %8.1f %8.1f", name, static_cast<unsigned long long>(ok),
      static_cast<unsigned long long>(failed), rate, l.p50, l.p90, l.p99, l.max);
  return row + (expected.empty() ? "" : "  " + expected) + "\n";
}

std::string ClassTable(const FleetReport& report) {
  std::string out = Printf("  %-9s %8s %7s %8s %8s %8s %8s %8s  %s\n", "class", "ok", "failed",
                           "per-sec", "p50-ms", "p90-ms", "p99-ms", "max-ms", "expected");
  LatencyStats all;
  for (Scenario s : kAllScenarios) {
    if (!InReport(report, s)) continue;
    const ScenarioTally& t = report.tally.scenarios[Index(s)];
    all.Merge(t.latency);
    out += TableRow(ScenarioName(s), t.ok, t.failed, report.elapsed_seconds, t.latency.Summarize(),
                    Describe(Expected(s, report.options.tls.version)));
  }
  out += TableRow("all", report.ok(), report.failed(), report.elapsed_seconds, all.Summarize(), "");
  return out;
}

std::string Unexpected(const FleetReport& report) {
  std::string out;
  for (Scenario s : kAllScenarios) {
    const ScenarioTally& t = report.tally.scenarios[Index(s)];
    const std::string expected = Describe(Expected(s, report.options.tls.version));
    for (const auto& [text, count] : t.unexpected) {
      out += Printf("  failed %llu: ", static_cast<unsigned long long>(count)) + ScenarioName(s) +
             ": " + text + " (expected " + expected + ")\n";
    }
  }
  return out;
}

std::string SlowSummary(const FleetReport& report) {
  if (report.options.slow == 0) return "";
  std::string out = Printf(
      "slow connections: %d kept open (thread at nice %d), one byte every %.1fs; %d were open "
      "when the fleet started (after %.1fs)\n",
      report.options.slow, report.options.slow_nice, report.options.slow_interval,
      report.slow_open_at_start, report.slow_open_seconds);
  for (size_t m = 0; m < kSlowModes; ++m) {
    const SlowTally& t = report.tally.slow[m];
    if (t.opened == 0) continue;
    const LatencySummary life = t.lifetime.Summarize();
    const double bytes =
        t.closed_by_server > 0 ? static_cast<double>(t.bytes_sent) / t.closed_by_server : 0;
    out += Printf(
        "  %-6s opened %llu, closed by the server %llu after p50 %.1fs max %.1fs (%.0f bytes "
        "sent on average), failed %llu, open at the end %llu\n",
        SlowModeName(static_cast<SlowMode>(m)), static_cast<unsigned long long>(t.opened),
        static_cast<unsigned long long>(t.closed_by_server), life.p50 / 1000, life.max / 1000,
        bytes, static_cast<unsigned long long>(t.failed),
        static_cast<unsigned long long>(t.still_open));
    for (const auto& [text, count] : t.failures) {
      out += Printf("    failed %llu: ", static_cast<unsigned long long>(count)) + text + "\n";
    }
  }
  return out;
}

}  // namespace

std::string FormatProgress(std::string_view command, const Progress& progress,
                           const MixWeights& mix) {
  const double rate = progress.elapsed_seconds > 0
                          ? static_cast<double>(progress.done) / progress.elapsed_seconds
                          : 0;
  std::string out =
      std::string(command) + " " + std::to_string(progress.done) + "/" +
      (progress.total > 0 ? std::to_string(progress.total) : "?") +
      Printf(" %.1f/s in-flight %lld failed:", rate, static_cast<long long>(progress.in_flight));
  for (Scenario s : kAllScenarios) {
    if (mix[Index(s)] == 0 && progress.failed[Index(s)] == 0) continue;
    out += std::string(" ") + ScenarioName(s) + "=" + std::to_string(progress.failed[Index(s)]);
  }
  return out;
}

std::string FormatSummary(std::string_view command, const FleetReport& report) {
  const auto ok = static_cast<unsigned long long>(report.ok());
  const double rate = report.elapsed_seconds > 0 ? ok / report.elapsed_seconds : 0.0;
  std::string out =
      std::string(command) + Printf(": ok=%llu failed=%llu elapsed=%.2fs rate=%.1f/s\n", ok,
                                    static_cast<unsigned long long>(report.failed()),
                                    report.elapsed_seconds, rate);
  out += ClassTable(report);
  if (report.tally.replay_setups > 0) {
    out += Printf("  set-up enrollments for replay (certificate issued, then replayed): %llu\n",
                  static_cast<unsigned long long>(report.tally.replay_setups));
  }
  out += Unexpected(report);
  uint64_t retries = 0;
  for (const ScenarioTally& t : report.tally.scenarios) retries += t.retries;
  const uint64_t done = report.ok() + report.failed();
  out += Printf(
      "client: %d threads, concurrency %d, %.2fs cpu (%.2f ms per enrollment), %llu "
      "retries after 503/429\n",
      report.threads, report.options.concurrency, report.cpu_seconds,
      done > 0 ? report.cpu_seconds * 1000 / static_cast<double>(done) : 0.0,
      static_cast<unsigned long long>(retries));
  return out + SlowSummary(report);
}

std::string FormatFailures(const FleetReport& report) {
  std::string out;
  for (const DeviceFailure& f : report.tally.failures) {
    out += "device " + f.device_id + ": " + f.reason;
    if (f.scenario != Scenario::kGood) {
      out += std::string(" (") + ScenarioName(f.scenario) + ", expected " +
             Describe(Expected(f.scenario, report.options.tls.version)) + ")";
    }
    out += "\n";
  }
  if (report.tally.failures_not_listed > 0) {
    out += Printf("... and %llu more failed enrollments\n",
                  static_cast<unsigned long long>(report.tally.failures_not_listed));
  }
  return out;
}

}  // namespace devsim
