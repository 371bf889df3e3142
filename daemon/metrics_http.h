// metrics_http.h — the optional plain-HTTP metrics listener (--metrics-listen, off by default):
// GET /metrics (Prometheus text format) and GET /healthz, on a SideHttp (side_http.h: bounded
// request head, a 2 s deadline per client, Connection: close). It only calls the two handlers it
// was given. Bind it to loopback (the default when only a port is given) or a management network:
// it has no authentication.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "base/error.h"
#include "base/unique_fd.h"
#include "daemon/side_http.h"

namespace provisiond {

struct MetricsHandlers {
  std::function<std::string()> metrics;      // the exposition text
  std::function<bool(std::string*)> health;  // true if healthy; fills a one-line reason
};

// The whole HTTP response for one request head ("GET /metrics HTTP/1.1\r\nHost: ...\r\n\r\n").
// Pure, so tests need no socket: 200 for /metrics and a healthy /healthz, 503 for an unhealthy
// one, 404 for other paths, 405 for methods other than GET/HEAD, 400 for a malformed line.
std::string AnswerMetricsRequest(std::string_view head, const MetricsHandlers& handlers);

struct MetricsHttp {
  // Takes ownership of listen_fd (a listening TCP socket) and serves AnswerMetricsRequest on it.
  static base::Result<std::unique_ptr<SideHttp>> Start(base::UniqueFd listen_fd,
                                                       MetricsHandlers handlers);
};

}  // namespace provisiond
