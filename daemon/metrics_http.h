// metrics_http.h — the optional plain-HTTP side listener (--metrics-listen, off by default):
// GET /metrics (Prometheus text format) and GET /healthz. Deliberately tiny and bounded: one
// thread, one client at a time, a 2 KiB request buffer, a 2 s deadline per client, and
// "Connection: close" after every answer. It never touches TLS keys or the database itself; it
// only calls the two handlers it was given. Bind it to loopback (the default when only a port
// is given) or a management network: it has no authentication.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "base/error.h"
#include "base/unique_fd.h"

namespace provisiond {

struct MetricsHandlers {
  std::function<std::string()> metrics;      // the exposition text
  std::function<bool(std::string*)> health;  // true if healthy; fills a one-line reason
};

// The whole HTTP response for one request head ("GET /metrics HTTP/1.1\r\nHost: ...\r\n\r\n").
// Pure, so tests need no socket: 200 for /metrics and a healthy /healthz, 503 for an unhealthy
// one, 404 for other paths, 405 for methods other than GET/HEAD, 400 for a malformed line.
std::string AnswerMetricsRequest(std::string_view head, const MetricsHandlers& handlers);

class MetricsHttp {
 public:
  static constexpr size_t kMaxRequestBytes = 2048;
  // Takes ownership of listen_fd (a listening TCP socket) and starts the serving thread.
  // kIo if the thread's wake-up descriptor cannot be made.
  static base::Result<std::unique_ptr<MetricsHttp>> Start(base::UniqueFd listen_fd,
                                                          MetricsHandlers handlers);
  // Stops the thread (an in-progress client is cut at its deadline at worst) and closes sockets.
  ~MetricsHttp();
  MetricsHttp(const MetricsHttp&) = delete;
  MetricsHttp& operator=(const MetricsHttp&) = delete;

  const std::string& address() const { return address_; }

 private:
  MetricsHttp(base::UniqueFd listen_fd, base::UniqueFd stop_fd, MetricsHandlers handlers);
  void Run();
  void ServeClient(int fd);

  base::UniqueFd listen_fd_;
  base::UniqueFd stop_fd_;
  MetricsHandlers handlers_;
  std::string address_;
  std::thread thread_;
};

}  // namespace provisiond
