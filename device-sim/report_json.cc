// report_json.cc — the --json document (see report.h), built with nlohmann::json. Strings that
// are not valid UTF-8 (a device id, a server's reason) are written with U+FFFD for each bad byte.
#include <cmath>
#include <nlohmann/json.hpp>

#include "device-sim/outcome.h"
#include "device-sim/report.h"

namespace devsim {
namespace {

using Json = nlohmann::ordered_json;  // keys in the order written, as the document always had

// Milliseconds and seconds to three decimals, as the document always had; NaN and infinities
// (never produced today) would be written as null.
double Number(double value) {
  return std::isfinite(value) ? std::round(value * 1000) / 1000 : value;
}

Json Latency(const LatencySummary& l) {
  return Json{{"count", l.count},          {"p50", Number(l.p50)}, {"p90", Number(l.p90)},
              {"p99", Number(l.p99)},      {"max", Number(l.max)}, {"mean", Number(l.mean)}};
}

// [{"le_ms": 1, "count": n}, ..., {"le_ms": null, "count": n}] — the last bucket is open-ended.
Json Histogram(const LatencySummary& l) {
  Json out = Json::array();
  for (size_t i = 0; i < kHistogramBuckets; ++i) {
    Json bound = nullptr;
    if (i < kHistogramBoundsMs.size()) bound = static_cast<long long>(kHistogramBoundsMs[i]);
    out.push_back(Json{{"le_ms", std::move(bound)}, {"count", l.histogram[i]}});
  }
  return out;
}

Json ClassObject(const FleetReport& report, Scenario s) {
  const ScenarioTally& t = report.tally.scenarios[Index(s)];
  const LatencySummary l = t.latency.Summarize();
  const double rate = report.elapsed_seconds > 0
                          ? static_cast<double>(t.ok + t.failed) / report.elapsed_seconds
                          : 0;
  Json unexpected = Json::object();
  for (const auto& [text, count] : t.unexpected) unexpected[text] = count;
  return Json{{"weight", report.options.mix[Index(s)]},
              {"expected", Describe(Expected(s, report.options.tls.version))},
              {"ok", t.ok},
              {"failed", t.failed},
              {"retries", t.retries},
              {"per_second", Number(rate)},
              {"latency_ms", Latency(l)},
              {"histogram", Histogram(l)},
              {"unexpected", std::move(unexpected)}};
}

Json Settings(const FleetReport& report) {
  const FleetOptions& o = report.options;
  return Json{{"tls", TlsVersionName(o.tls.version)},
              {"key_share", KeyShareName(o.tls.key_share)},
              {"concurrency", o.concurrency},
              {"threads", report.threads},
              {"rate", Number(o.rate)},
              {"count", o.count},
              {"duration", Number(o.duration)},
              {"mix", FormatMix(o.mix)},
              {"slow", o.slow},
              {"step_timeout", Number(o.step_timeout)},
              {"max_retries", o.max_retries},
              {"retry_connections", o.retry_connections},
              {"prepare_keys", o.prepare_keys}};
}

Json SlowObject(const FleetReport& report) {
  Json out{{"connections", report.options.slow},
           {"interval_seconds", Number(report.options.slow_interval)},
           {"nice", report.options.slow_nice},
           {"open_at_start", report.slow_open_at_start},
           {"seconds_to_open", Number(report.slow_open_seconds)}};
  for (size_t m = 0; m < kSlowModes; ++m) {
    const SlowTally& t = report.tally.slow[m];
    out[SlowModeName(static_cast<SlowMode>(m))] =
        Json{{"opened", t.opened},
             {"closed_by_server", t.closed_by_server},
             {"failed", t.failed},
             {"still_open", t.still_open},
             {"bytes_sent_before_close", t.bytes_sent},
             {"lifetime_ms", Latency(t.lifetime.Summarize())}};
  }
  return out;
}

// "per_second": {"issued": [...], "retry_status": [...], "connect_retries": [...]}, second 0
// first; "retry_after_seconds": {"15": count, ...}: the Retry-After values of 503/429 answers.
Json TimelineObject(const Timeline::Counts& counts) {
  Json per_second = Json::object();
  for (size_t e = 0; e < Timeline::kEvents; ++e) {
    per_second[TimelineEventName(static_cast<Timeline::Event>(e))] = counts.per_second[e];
  }
  Json retry_after = Json::object();
  for (auto [value, count] : counts.retry_after) retry_after[std::to_string(value)] = count;
  return Json{{"per_second", std::move(per_second)}, {"retry_after_seconds", std::move(retry_after)}};
}

Json Failures(const FleetReport& report) {
  Json out = Json::array();
  for (const DeviceFailure& f : report.tally.failures) {
    out.push_back(
        Json{{"device", f.device_id}, {"class", ScenarioName(f.scenario)}, {"outcome", f.reason}});
  }
  return out;
}

}  // namespace

std::string FormatJson(std::string_view command, const FleetReport& report) {
  const uint64_t done = report.ok() + report.failed();
  Json classes = Json::object();
  LatencyStats all;
  for (Scenario s : kAllScenarios) {
    all.Merge(report.tally.scenarios[Index(s)].latency);
    classes[ScenarioName(s)] = ClassObject(report, s);
  }
  const LatencySummary total = all.Summarize();
  const Json doc{
      {"command", command},
      {"ok", report.ok()},
      {"failed", report.failed()},
      {"planned", report.planned},
      {"elapsed_seconds", Number(report.elapsed_seconds)},
      {"rate_per_second",
       Number(report.elapsed_seconds > 0 ? report.ok() / report.elapsed_seconds : 0)},
      {"cpu_seconds", Number(report.cpu_seconds)},
      {"cpu_ms_per_enrollment",
       Number(done > 0 ? report.cpu_seconds * 1000 / static_cast<double>(done) : 0)},
      {"settings", Settings(report)},
      {"replay_setups", report.tally.replay_setups},
      {"classes", std::move(classes)},
      {"all", Json{{"latency_ms", Latency(total)}, {"histogram", Histogram(total)}}},
      {"slow", SlowObject(report)},
      {"timeline", TimelineObject(report.timeline)},
      {"failures", Failures(report)},
      {"failures_not_listed", report.tally.failures_not_listed}};
  // error_handler_t::replace: invalid UTF-8 becomes U+FFFD instead of a thrown type_error, so
  // dump cannot throw (bar std::bad_alloc, as any std::string can).
  return doc.dump(2, ' ', /*ensure_ascii=*/false, Json::error_handler_t::replace) + "\n";
}

}  // namespace devsim
