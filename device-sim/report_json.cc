// report_json.cc — the --json document (see report.h). Hand-written: a few fixed shapes, strings
// escaped per RFC 8259.
#include <cstdio>

#include "device-sim/outcome.h"
#include "device-sim/report.h"

namespace devsim {
namespace {

std::string Quote(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\u%04x", u);
      out += esc;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string Number(double value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", value);
  return buf;
}

std::string Count(uint64_t value) { return std::to_string(value); }

std::string Latency(const LatencySummary& l) {
  std::string out = "{\"count\": " + Count(l.count) + ", \"p50\": " + Number(l.p50) +
                    ", \"p90\": " + Number(l.p90) + ", \"p99\": " + Number(l.p99) +
                    ", \"max\": " + Number(l.max) + ", \"mean\": " + Number(l.mean) + "}";
  return out;
}

// [{"le_ms": 1, "count": n}, ..., {"le_ms": null, "count": n}] — the last bucket is open-ended.
std::string Histogram(const LatencySummary& l) {
  std::string out = "[";
  for (size_t i = 0; i < kHistogramBuckets; ++i) {
    if (i > 0) out += ", ";
    const std::string bound = i < kHistogramBoundsMs.size()
                                  ? std::to_string(static_cast<long long>(kHistogramBoundsMs[i]))
                                  : std::string("null");
    out += "{\"le_ms\": " + bound + ", \"count\": " + Count(l.histogram[i]) + "}";
  }
  return out + "]";
}

std::string ClassObject(const FleetReport& report, Scenario s) {
  const ScenarioTally& t = report.tally.scenarios[Index(s)];
  const LatencySummary l = t.latency.Summarize();
  const double rate = report.elapsed_seconds > 0
                          ? static_cast<double>(t.ok + t.failed) / report.elapsed_seconds
                          : 0;
  std::string unexpected = "{";
  for (const auto& [text, count] : t.unexpected) {
    if (unexpected.size() > 1) unexpected += ", ";
    unexpected += Quote(text) + ": " + Count(count);
  }
  unexpected += "}";
  return "{\"weight\": " + std::to_string(report.options.mix[Index(s)]) +
         ", \"expected\": " + Quote(Describe(Expected(s, report.options.tls.version))) +
         ", \"ok\": " + Count(t.ok) + ", \"failed\": " + Count(t.failed) +
         ", \"retries\": " + Count(t.retries) + ", \"per_second\": " + Number(rate) +
         ",\n      \"latency_ms\": " + Latency(l) + ",\n      \"histogram\": " + Histogram(l) +
         ",\n      \"unexpected\": " + unexpected + "}";
}

std::string Settings(const FleetReport& report) {
  const FleetOptions& o = report.options;
  return "{\"tls\": " + Quote(TlsVersionName(o.tls.version)) +
         ", \"key_share\": " + Quote(KeyShareName(o.tls.key_share)) +
         ", \"concurrency\": " + std::to_string(o.concurrency) +
         ", \"threads\": " + std::to_string(report.threads) + ", \"rate\": " + Number(o.rate) +
         ", \"count\": " + Count(o.count) + ", \"duration\": " + Number(o.duration) +
         ", \"mix\": " + Quote(FormatMix(o.mix)) + ", \"slow\": " + std::to_string(o.slow) +
         ", \"step_timeout\": " + Number(o.step_timeout) +
         ", \"max_retries\": " + std::to_string(o.max_retries) + "}";
}

std::string SlowObject(const FleetReport& report) {
  std::string out = "{\"connections\": " + std::to_string(report.options.slow) +
                    ", \"interval_seconds\": " + Number(report.options.slow_interval) +
                    ", \"nice\": " + std::to_string(report.options.slow_nice) +
                    ", \"open_at_start\": " + std::to_string(report.slow_open_at_start) +
                    ", \"seconds_to_open\": " + Number(report.slow_open_seconds);
  for (size_t m = 0; m < kSlowModes; ++m) {
    const SlowTally& t = report.tally.slow[m];
    out += std::string(", ") + Quote(SlowModeName(static_cast<SlowMode>(m))) +
           ": {\"opened\": " + Count(t.opened) +
           ", \"closed_by_server\": " + Count(t.closed_by_server) +
           ", \"failed\": " + Count(t.failed) + ", \"still_open\": " + Count(t.still_open) +
           ", \"bytes_sent_before_close\": " + Count(t.bytes_sent) +
           ", \"lifetime_ms\": " + Latency(t.lifetime.Summarize()) + "}";
  }
  return out + "}";
}

std::string Failures(const FleetReport& report) {
  std::string out = "[";
  for (const DeviceFailure& f : report.tally.failures) {
    if (out.size() > 1) out += ",\n    ";
    out += "{\"device\": " + Quote(f.device_id) +
           ", \"class\": " + Quote(ScenarioName(f.scenario)) + ", \"outcome\": " + Quote(f.reason) +
           "}";
  }
  return out + "]";
}

}  // namespace

std::string FormatJson(std::string_view command, const FleetReport& report) {
  const uint64_t done = report.ok() + report.failed();
  std::string classes;
  LatencyStats all;
  for (Scenario s : kAllScenarios) {
    all.Merge(report.tally.scenarios[Index(s)].latency);
    if (!classes.empty()) classes += ",\n    ";
    classes += Quote(ScenarioName(s)) + ": " + ClassObject(report, s);
  }
  const LatencySummary total = all.Summarize();
  return "{\n  \"command\": " + Quote(command) + ",\n  \"ok\": " + Count(report.ok()) +
         ",\n  \"failed\": " + Count(report.failed()) +
         ",\n  \"planned\": " + Count(report.planned) +
         ",\n  \"elapsed_seconds\": " + Number(report.elapsed_seconds) +
         ",\n  \"rate_per_second\": " +
         Number(report.elapsed_seconds > 0 ? report.ok() / report.elapsed_seconds : 0) +
         ",\n  \"cpu_seconds\": " + Number(report.cpu_seconds) +
         ",\n  \"cpu_ms_per_enrollment\": " +
         Number(done > 0 ? report.cpu_seconds * 1000 / static_cast<double>(done) : 0) +
         ",\n  \"settings\": " + Settings(report) +
         ",\n  \"replay_setups\": " + Count(report.tally.replay_setups) +
         ",\n  \"classes\": {\n    " + classes + "\n  }" +
         ",\n  \"all\": {\"latency_ms\": " + Latency(total) +
         ",\n    \"histogram\": " + Histogram(total) + "}" +
         ",\n  \"slow\": " + SlowObject(report) + ",\n  \"failures\": " + Failures(report) +
         ",\n  \"failures_not_listed\": " + Count(report.tally.failures_not_listed) + "\n}\n";
}

}  // namespace devsim
