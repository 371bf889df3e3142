// metrics_test.cc — the Prometheus exposition and the bounded /metrics listener.
#include "daemon/metrics.h"

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "daemon/metrics_http.h"
#include "daemon/net.h"
#include "tests/daemon/loopback_http.h"

using namespace provisiond;

namespace {
bool Has(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}
}  // namespace

TEST_CASE("counters render with HELP, TYPE and one line per label value") {
  CounterFamily c("x_total", "Things.", "outcome", {"issued"});
  std::string out;
  c.Render(&out);
  CHECK(Has(out, "# HELP x_total Things.\n# TYPE x_total counter\n"));
  CHECK(Has(out, "x_total{outcome=\"issued\"} 0\n"));
  c.Inc("issued");
  c.Inc("rate_limited", 2);
  CHECK(c.Get("issued") == 1);
  CHECK(c.Total() == 3);
  out.clear();
  c.Render(&out);
  CHECK(Has(out, "x_total{outcome=\"rate_limited\"} 2\n"));
}

TEST_CASE("label values are escaped and the number of series is bounded") {
  CHECK(EscapeLabelValue("a\"b\\c\nd") == "a\\\"b\\\\c\\nd");
  CounterFamily c("y_total", "Y.", "alert");
  for (int i = 0; i < 1000; ++i) c.Inc("v" + std::to_string(i));
  std::string out;
  c.Render(&out);
  size_t lines = 0;
  for (char ch : out) lines += ch == '\n';
  CHECK(lines == 2 + CounterFamily::kMaxSeries + 1);  // HELP, TYPE, 64 values and "other"
  CHECK(c.Get("other") == 1000 - CounterFamily::kMaxSeries);
  CHECK(c.Total() == 1000);
}

TEST_CASE("histograms are cumulative with +Inf, sum and count") {
  Histogram h("lat_seconds", "Latency.", {0.01, 0.1, 1});
  h.Observe(std::chrono::milliseconds(5));
  h.Observe(std::chrono::milliseconds(50));
  h.Observe(std::chrono::milliseconds(50));
  h.Observe(std::chrono::seconds(3));
  std::string out;
  h.Render(&out);
  CHECK(Has(out, "# TYPE lat_seconds histogram\n"));
  CHECK(Has(out, "lat_seconds_bucket{le=\"0.01\"} 1\n"));
  CHECK(Has(out, "lat_seconds_bucket{le=\"0.1\"} 3\n"));
  CHECK(Has(out, "lat_seconds_bucket{le=\"1\"} 3\n"));
  CHECK(Has(out, "lat_seconds_bucket{le=\"+Inf\"} 4\n"));
  CHECK(Has(out, "lat_seconds_sum 3.105\n"));
  CHECK(Has(out, "lat_seconds_count 4\n"));
}

TEST_CASE("the daemon's families are all exposed and summarised for STATUS=") {
  Metrics m;
  m.enrollments.Inc("issued", 5);
  m.enrollments.Inc("bootstrap_exhausted");
  m.handshake_failures.Inc("unknown_ca", 2);
  m.connections_in_flight.Add(3);
  std::string text = m.Render();
  for (const char* name : {"provisiond_enrollments_total", "provisiond_handshake_failures_total",
                           "provisiond_connections_in_flight",
                           "provisiond_enrollment_duration_seconds", "provisiond_reloads_total",
                           "provisiond_connections_total", "provisiond_start_time_seconds"}) {
    CHECK_MESSAGE(Has(text, std::string("# TYPE ") + name + " "), name);
  }
  CHECK(m.StatusLine() == "connections=3 issued=5 refused=1 handshake_failures=2");
}

TEST_CASE("the database writer's commit histogram is exposed in seconds") {
  db::Writer::Stats stats;
  stats.batches = 4;
  stats.gathers = 2;
  stats.operations = 9;
  stats.commit_failures = 1;
  stats.commit_ms_histogram[0] = 1;  // < 0.25 ms
  stats.commit_ms_histogram[3] = 2;  // < 2 ms
  stats.total_commit_ms = 3.5;
  std::string out;
  RenderDbMetrics(stats, 7, &out);
  CHECK(Has(out, "# TYPE provisiond_db_commit_duration_seconds histogram\n"));
  CHECK(Has(out, "provisiond_db_commit_duration_seconds_bucket{le=\"0.00025\"} 1\n"));
  CHECK(Has(out, "provisiond_db_commit_duration_seconds_bucket{le=\"0.002\"} 3\n"));
  CHECK(Has(out, "provisiond_db_commit_duration_seconds_bucket{le=\"+Inf\"} 3\n"));
  CHECK(Has(out, "provisiond_db_commit_duration_seconds_sum 0.0035\n"));
  CHECK(Has(out, "provisiond_db_commit_duration_seconds_count 3\n"));
  CHECK(Has(out, "provisiond_db_batches_total 4\n"));
  CHECK(Has(out, "provisiond_db_gathered_batches_total 2\n"));
  CHECK(Has(out, "provisiond_db_commit_failures_total 1\n"));
  CHECK(Has(out, "provisiond_db_queue_depth 7\n"));
}

TEST_CASE("metrics requests: paths, methods and health") {
  bool healthy = true;
  MetricsHandlers h{.metrics = [] { return std::string("m 1\n"); },
                    .health =
                        [&](std::string* why) {
                          *why = "draining";
                          return healthy;
                        }};
  std::string r = AnswerMetricsRequest("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", h);
  CHECK(r.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(Has(r, "Content-Type: text/plain; version=0.0.4"));
  CHECK(Has(r, "Content-Length: 4\r\n"));
  CHECK(Has(r, "\r\n\r\nm 1\n"));
  CHECK(AnswerMetricsRequest("GET /metrics?x=1 HTTP/1.0\r\n\r\n", h).rfind("HTTP/1.1 200", 0) == 0);
  std::string head = AnswerMetricsRequest("HEAD /metrics HTTP/1.1\r\n\r\n", h);
  CHECK(head.substr(head.size() - 4) == "\r\n\r\n");
  CHECK(AnswerMetricsRequest("GET /healthz HTTP/1.1\r\n\r\n", h).rfind("HTTP/1.1 200", 0) == 0);
  healthy = false;
  std::string sick = AnswerMetricsRequest("GET /healthz HTTP/1.1\r\n\r\n", h);
  CHECK(sick.rfind("HTTP/1.1 503", 0) == 0);
  CHECK(Has(sick, "draining\n"));
  CHECK(AnswerMetricsRequest("GET /other HTTP/1.1\r\n\r\n", h).rfind("HTTP/1.1 404", 0) == 0);
  CHECK(AnswerMetricsRequest("POST /metrics HTTP/1.1\r\n\r\n", h).rfind("HTTP/1.1 405", 0) == 0);
  CHECK(AnswerMetricsRequest("garbage\r\n\r\n", h).rfind("HTTP/1.1 400", 0) == 0);
  CHECK(AnswerMetricsRequest("GET / SPDY/3\r\n\r\n", h).rfind("HTTP/1.1 400", 0) == 0);
}

using testhttp::Fetch;

TEST_CASE("the listener answers over TCP and refuses oversized requests") {
  auto fd = ListenTcp("127.0.0.1:0", 4);
  REQUIRE(fd.has_value());
  auto http = MetricsHttp::Start(std::move(*fd), {.metrics = [] { return std::string("up 1\n"); },
                                                  .health = [](std::string*) { return true; }});
  REQUIRE(http.has_value());
  const std::string& address = (*http)->address();
  int port = std::stoi(address.substr(address.rfind(':') + 1));
  CHECK(Fetch(port, "GET /metrics HTTP/1.1\r\n\r\n").find("\r\n\r\nup 1\n") != std::string::npos);
  std::string big = "GET /metrics HTTP/1.1\r\nX: " + std::string(5000, 'a') + "\r\n\r\n";
  CHECK(Fetch(port, big).rfind("HTTP/1.1 431", 0) == 0);
  // Still serving after the oversized one.
  CHECK(Fetch(port, "GET /healthz HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 200", 0) == 0);
}

TEST_CASE("a bare port listens on loopback") {
  auto fd = ListenTcp("0", 4);
  REQUIRE(fd.has_value());
  CHECK(LocalAddress(fd->get()).rfind("127.0.0.1:", 0) == 0);
  CHECK_FALSE(ListenTcp("300.1.1.1:0", 4).has_value());
  CHECK_FALSE(CheckListenAddress("localhost:80").has_value());  // numeric hosts only
  CHECK(CheckListenAddress("[::1]:9102").has_value());
}
