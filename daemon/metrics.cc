// metrics.cc — counters, gauges, histograms and their text exposition (see metrics.h).
#include "daemon/metrics.h"

#include <charconv>
#include <ctime>

#include "ca/cert.h"

namespace provisiond {
namespace {

std::string FormatDouble(double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : "NaN";
}

void Header(std::string* out, const std::string& name, const std::string& help, const char* type) {
  *out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

}  // namespace

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

CounterFamily::CounterFamily(std::string name, std::string help, std::string label,
                             std::initializer_list<std::string_view> initial)
    : name_(std::move(name)), help_(std::move(help)), label_(std::move(label)) {
  for (auto v : initial) values_.emplace(std::string(v), 0);
}

void CounterFamily::Inc(std::string_view label_value, uint64_t n) {
  std::lock_guard lock(mu_);
  auto it = values_.find(label_value);
  if (it == values_.end()) {
    if (values_.size() >= kMaxSeries) label_value = "other";
    it = values_.emplace(std::string(label_value), 0).first;
  }
  it->second += n;
}

uint64_t CounterFamily::Get(std::string_view label_value) const {
  std::lock_guard lock(mu_);
  auto it = values_.find(label_value);
  return it == values_.end() ? 0 : it->second;
}

uint64_t CounterFamily::Total() const {
  std::lock_guard lock(mu_);
  uint64_t total = 0;
  for (const auto& [k, v] : values_) total += v;
  return total;
}

void CounterFamily::Render(std::string* out) const {
  Header(out, name_, help_, "counter");
  std::lock_guard lock(mu_);
  for (const auto& [k, v] : values_) {
    *out += name_ + "{" + label_ + "=\"" + EscapeLabelValue(k) + "\"} " + std::to_string(v) + "\n";
  }
}

void Gauge::Render(std::string* out) const {
  Header(out, name_, help_, "gauge");
  *out += name_ + " " + std::to_string(Get()) + "\n";
}

Histogram::Histogram(std::string name, std::string help, std::initializer_list<double> bounds)
    : name_(std::move(name)), help_(std::move(help)), bounds_(bounds) {
  if (bounds_.size() > kMaxBuckets) bounds_.resize(kMaxBuckets);
}

void Histogram::Observe(std::chrono::nanoseconds duration) {
  int64_t ns = duration.count() < 0 ? 0 : duration.count();
  double seconds = static_cast<double>(ns) / 1e9;
  size_t i = 0;
  while (i < bounds_.size() && seconds > bounds_[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<uint64_t>(ns), std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

void RenderHistogram(std::string* out, const std::string& name, const std::string& help,
                     const std::vector<double>& bounds, const std::vector<uint64_t>& counts,
                     double sum) {
  Header(out, name, help, "histogram");
  uint64_t cumulative = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    cumulative += counts[i];
    std::string le = i < bounds.size() ? FormatDouble(bounds[i]) : "+Inf";
    *out += name + "_bucket{le=\"" + le + "\"} " + std::to_string(cumulative) + "\n";
  }
  *out += name + "_sum " + FormatDouble(sum) + "\n";
  *out += name + "_count " + std::to_string(cumulative) + "\n";
}

void Histogram::Render(std::string* out) const {
  // Reads are not one snapshot, so a scrape racing an Observe may see the sum one observation
  // ahead of the buckets; Prometheus tolerates that.
  std::vector<uint64_t> counts;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    counts.push_back(buckets_[i].load(std::memory_order_relaxed));
  }
  RenderHistogram(out, name_, help_, bounds_, counts,
                  static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9);
}

void RenderDbMetrics(const db::Writer::Stats& stats, size_t queue_depth, std::string* out) {
  std::vector<double> bounds;
  for (double ms : db::Writer::kCommitBucketsMs) bounds.push_back(ms / 1000);
  std::vector<uint64_t> counts(stats.commit_ms_histogram.begin(), stats.commit_ms_histogram.end());
  RenderHistogram(out, "provisiond_db_commit_duration_seconds",
                  "Time of each group COMMIT of the database writer (mostly the fsync); a "
                  "bucket counts commits shorter than its bound.",
                  bounds, counts, stats.total_commit_ms / 1000);
  auto counter = [out](const char* name, const char* help, uint64_t v) {
    Header(out, name, help, "counter");
    *out += std::string(name) + " " + std::to_string(v) + "\n";
  };
  counter("provisiond_db_batches_total", "Transactions the database writer began.", stats.batches);
  counter("provisiond_db_gathered_batches_total",
          "Transactions that waited (up to --commit-delay-ms) for other enrollments' writes.",
          stats.gathers);
  counter("provisiond_db_operations_total",
          "Writes (reservations, certificates, events) the database writer finished.",
          stats.operations);
  counter("provisiond_db_commit_failures_total", "Batches that failed as a whole.",
          stats.commit_failures);
  Header(out, "provisiond_db_queue_depth", "Writes waiting for the database writer.", "gauge");
  *out += "provisiond_db_queue_depth " + std::to_string(queue_depth) + "\n";
}

Metrics::Metrics()
    : enrollments("provisiond_enrollments_total",
                  "Enrollment requests (simpleenroll, simplereenroll) answered, by outcome.",
                  "outcome", {"issued", "already_issued"}),
      handshake_failures("provisiond_handshake_failures_total",
                         "TLS handshakes that failed, by the alert sent to the peer.", "alert"),
      reloads("provisiond_reloads_total", "SIGHUP reloads, by result.", "result",
              {"ok", "refused"}),
      connections_in_flight("provisiond_connections_in_flight",
                            "Client connections open now (handshake, request or keep-alive)."),
      connections("provisiond_connections_total",
                  "Client connections accepted; refused at the max-connections limit (refused) or "
                  "the max-connections-per-source limit (refused_source); or closed before their "
                  "TLS handshake finished to make room in a full table (evicted).",
                  "event", {"accepted", "refused", "refused_source", "evicted"}),
      unauthenticated_suppressed(
          "provisiond_unauthenticated_suppressed_total",
          "Events of unauthenticated peers over the budget, counted but not written one by one: "
          "line = a journal line, row = an enrollment_events row.",
          "kind", {"line", "row"}),
      proxy_refused("provisiond_proxy_refused_total",
                    "Connections closed over a PROXY protocol header: missing or malformed from a "
                    "--proxy-protocol-from peer, or sent by any other peer.",
                    "reason"),
      enrollment_seconds("provisiond_enrollment_duration_seconds",
                         "Time from a complete enrollment request to its response being ready "
                         "(checks, signing and the database commit).",
                         {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}),
      start_time_seconds("provisiond_start_time_seconds",
                         "Unix time at which the daemon started."),
      ready("provisiond_ready",
            "1 once the daemon listens with its store open (systemd READY=1), 0 while draining."),
      ca_cert_not_after("provisiond_ca_certificate_not_after_seconds",
                        "notAfter of the issuing CA certificate, unix time."),
      server_cert_not_after("provisiond_server_certificate_not_after_seconds",
                            "notAfter of the TLS server certificate in force, unix time."),
      db_queue_limit("provisiond_db_queue_limit",
                     "Writes the database writer queues at most (--max-pending-writes); past it "
                     "enrollments are answered 503 (outcome store_unavailable).") {
  start_time_seconds.Set(static_cast<int64_t>(std::time(nullptr)));
}

std::string Metrics::Render() const {
  std::string out;
  enrollments.Render(&out);
  handshake_failures.Render(&out);
  connections.Render(&out);
  unauthenticated_suppressed.Render(&out);
  proxy_refused.Render(&out);
  connections_in_flight.Render(&out);
  enrollment_seconds.Render(&out);
  reloads.Render(&out);
  start_time_seconds.Render(&out);
  ready.Render(&out);
  ca_cert_not_after.Render(&out);
  server_cert_not_after.Render(&out);
  db_queue_limit.Render(&out);
  return out;
}

std::string Metrics::StatusLine() const {
  uint64_t issued = enrollments.Get("issued") + enrollments.Get("already_issued");
  uint64_t refused = enrollments.Total() - issued;
  return "connections=" + std::to_string(connections_in_flight.Get()) +
         " issued=" + std::to_string(issued) + " refused=" + std::to_string(refused) +
         " handshake_failures=" + std::to_string(handshake_failures.Total());
}

Metrics& GlobalMetrics() {
  static Metrics metrics;
  return metrics;
}

void SetCertificateExpiry(Metrics& metrics, std::string_view ca_cert_pem,
                          std::string_view server_cert_pem) {
  if (auto ca = ca::ParseCertificates(ca_cert_pem)) {
    metrics.ca_cert_not_after.Set(ca::ToUnixTime((*ca)->get()->valid_to));
  }
  if (auto server = ca::ParseCertificates(server_cert_pem)) {
    metrics.server_cert_not_after.Set(ca::ToUnixTime((*server)->get()->valid_to));
  }
}

}  // namespace provisiond
