// metrics.h — the daemon's counters, gauges and histograms, rendered in the Prometheus text
// exposition format (version 0.0.4) for /metrics and summarised for systemd's STATUS=.
//
// Thread-safety: every update is safe from any thread. Gauges and histograms are lock-free
// atomics; a labelled counter takes a short mutex (label values come from closed sets, and a
// family holds at most kMaxSeries of them, further values fold into "other", so memory is
// bounded whatever a peer does).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "db/writer.h"

namespace provisiond {

// A counter with one label, e.g. provisiond_enrollments_total{outcome="issued"}.
class CounterFamily {
 public:
  static constexpr size_t kMaxSeries = 64;
  // `initial` label values are rendered (as 0) before their first increment.
  CounterFamily(std::string name, std::string help, std::string label,
                std::initializer_list<std::string_view> initial = {});
  void Inc(std::string_view label_value, uint64_t n = 1);
  uint64_t Get(std::string_view label_value) const;
  uint64_t Total() const;
  void Render(std::string* out) const;

 private:
  const std::string name_, help_, label_;
  mutable std::mutex mu_;
  std::map<std::string, uint64_t, std::less<>> values_;
};

// A value that goes up and down, e.g. connections in flight.
class Gauge {
 public:
  Gauge(std::string name, std::string help) : name_(std::move(name)), help_(std::move(help)) {}
  void Add(int64_t n) { value_.fetch_add(n, std::memory_order_relaxed); }
  void Set(int64_t n) { value_.store(n, std::memory_order_relaxed); }
  int64_t Get() const { return value_.load(std::memory_order_relaxed); }
  void Render(std::string* out) const;

 private:
  const std::string name_, help_;
  std::atomic<int64_t> value_{0};
};

// Durations in fixed buckets (upper bounds in seconds, ascending, at most kMaxBuckets).
class Histogram {
 public:
  static constexpr size_t kMaxBuckets = 16;
  Histogram(std::string name, std::string help, std::initializer_list<double> bounds);
  void Observe(std::chrono::nanoseconds duration);
  uint64_t Count() const { return count_.load(std::memory_order_relaxed); }
  void Render(std::string* out) const;

 private:
  const std::string name_, help_;
  std::vector<double> bounds_;
  std::array<std::atomic<uint64_t>, kMaxBuckets + 1> buckets_{};  // last one: +Inf
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_ns_{0};
};

// Everything provisiond measures. One instance for the process (GlobalMetrics()); tests may make
// their own.
struct Metrics {
  Metrics();

  CounterFamily enrollments;         // by EnrollCode name: issued, already_issued, rate_limited...
  CounterFamily handshake_failures;  // by alert name: unknown_ca, certificate_expired...
  CounterFamily reloads;             // by result: ok, refused
  Gauge connections_in_flight;
  CounterFamily connections;     // by event: accepted, refused, refused_source, evicted
  // Unauthenticated events over the flood budget (flood_budget.h): by what was not written.
  CounterFamily unauthenticated_suppressed;
  // Connections closed over a PROXY protocol header (--proxy-protocol-from): by reason
  // (proxy_header.h kReasons).
  CounterFamily proxy_refused;
  Histogram enrollment_seconds;  // complete request -> response ready (checks, sign, commit)
  Gauge start_time_seconds;
  Gauge ready;  // 1 from READY=1 until draining starts
  // notAfter (unix seconds) of the issuing CA's and of the TLS server certificate in force
  // (SetCertificateExpiry: at start and after each reload).
  Gauge ca_cert_not_after;
  Gauge server_cert_not_after;
  Gauge db_queue_limit;  // --max-pending-writes: past it, enrollments get 503 store_unavailable

  // The whole exposition, "# HELP"/"# TYPE" lines included.
  std::string Render() const;
  // One line for systemd's STATUS=, e.g. "connections=3 issued=120 refused=4 handshake_failures=2".
  std::string StatusLine() const;
};

Metrics& GlobalMetrics();

// Sets ca_cert_not_after and server_cert_not_after from the first certificate of each PEM
// (the server file may carry its chain after it). A PEM that does not parse leaves its gauge.
void SetCertificateExpiry(Metrics& metrics, std::string_view ca_cert_pem,
                          std::string_view server_cert_pem);

// The database writer's group-commit counters (kept by db::Writer itself):
// provisiond_db_commit_duration_seconds (histogram of COMMIT times, mostly the fsync),
// provisiond_db_batches_total, provisiond_db_operations_total, provisiond_db_commit_failures_total
// and provisiond_db_queue_depth.
void RenderDbMetrics(const db::Writer::Stats& stats, size_t queue_depth, std::string* out);

// One histogram in the exposition format from per-bucket (not cumulative) counts; counts has one
// more entry than bounds (the +Inf bucket).
void RenderHistogram(std::string* out, const std::string& name, const std::string& help,
                     const std::vector<double>& bounds, const std::vector<uint64_t>& counts,
                     double sum);

// Prometheus label-value escaping: backslash, double quote and newline.
std::string EscapeLabelValue(std::string_view value);

}  // namespace provisiond
