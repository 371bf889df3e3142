// metrics_http.cc — the /metrics and /healthz listener (see metrics_http.h).
#include "daemon/metrics_http.h"

#include <chrono>

namespace provisiond {
namespace {

constexpr auto kClientDeadline = std::chrono::seconds(2);
constexpr std::string_view kNoStore = "Cache-Control: no-store\r\n";
constexpr std::string_view kText = "text/plain; charset=utf-8";

}  // namespace

std::string AnswerMetricsRequest(std::string_view head, const MetricsHandlers& handlers) {
  auto request = ParseSideRequest(head);
  if (!request) return SideResponse(400, "Bad Request", kText, "bad request\n", false, kNoStore);
  bool head_only = request->method == "HEAD";
  if (request->method != "GET" && !head_only) {
    return SideResponse(405, "Method Not Allowed", kText, "GET or HEAD only\n", false,
                        "Allow: GET, HEAD\r\nCache-Control: no-store\r\n");
  }
  if (request->path == "/metrics") {
    return SideResponse(200, "OK", "text/plain; version=0.0.4; charset=utf-8", handlers.metrics(),
                        head_only, kNoStore);
  }
  if (request->path == "/healthz") {
    std::string reason;
    bool ok = handlers.health(&reason);
    return ok ? SideResponse(200, "OK", kText, "ok\n", head_only, kNoStore)
              : SideResponse(503, "Service Unavailable", kText, reason + "\n", head_only, kNoStore);
  }
  return SideResponse(404, "Not Found", kText, "try /metrics or /healthz\n", head_only, kNoStore);
}

base::Result<std::unique_ptr<SideHttp>> MetricsHttp::Start(base::UniqueFd listen_fd,
                                                           MetricsHandlers handlers) {
  return SideHttp::Start(
      std::move(listen_fd),
      [h = std::move(handlers)](std::string_view head) { return AnswerMetricsRequest(head, h); },
      "metrics-http", kClientDeadline);
}

}  // namespace provisiond
