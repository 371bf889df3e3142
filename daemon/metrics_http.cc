// metrics_http.cc — the /metrics and /healthz listener (see metrics_http.h).
#include "daemon/metrics_http.h"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "daemon/log.h"
#include "daemon/net.h"

namespace provisiond {
namespace {

constexpr auto kClientDeadline = std::chrono::seconds(2);

std::string Response(int status, const char* reason, std::string_view content_type,
                     const std::string& body, bool head_only) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\n";
  out += "Content-Type: " + std::string(content_type) + "\r\n";
  out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  out += "Cache-Control: no-store\r\nConnection: close\r\n\r\n";
  if (!head_only) out += body;
  return out;
}

int MillisLeft(std::chrono::steady_clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

}  // namespace

std::string AnswerMetricsRequest(std::string_view head, const MetricsHandlers& handlers) {
  constexpr std::string_view kText = "text/plain; charset=utf-8";
  size_t eol = head.find_first_of("\r\n");
  std::string_view line = head.substr(0, eol);
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.substr(sp2 + 1).rfind("HTTP/1.", 0) != 0) {
    return Response(400, "Bad Request", kText, "bad request\n", false);
  }
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  target = target.substr(0, target.find('?'));
  bool head_only = method == "HEAD";
  if (method != "GET" && !head_only) {
    return Response(405, "Method Not Allowed", kText, "GET or HEAD only\n", false);
  }
  if (target == "/metrics") {
    return Response(200, "OK", "text/plain; version=0.0.4; charset=utf-8", handlers.metrics(),
                    head_only);
  }
  if (target == "/healthz") {
    std::string reason;
    bool ok = handlers.health(&reason);
    return ok ? Response(200, "OK", kText, "ok\n", head_only)
              : Response(503, "Service Unavailable", kText, reason + "\n", head_only);
  }
  return Response(404, "Not Found", kText, "try /metrics or /healthz\n", head_only);
}

MetricsHttp::MetricsHttp(base::UniqueFd listen_fd, base::UniqueFd stop_fd, MetricsHandlers handlers)
    : listen_fd_(std::move(listen_fd)),
      stop_fd_(std::move(stop_fd)),
      handlers_(std::move(handlers)),
      address_(LocalAddress(listen_fd_.get())) {}

base::Result<std::unique_ptr<MetricsHttp>> MetricsHttp::Start(base::UniqueFd listen_fd,
                                                              MetricsHandlers handlers) {
  base::UniqueFd stop_fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!stop_fd) {
    return base::Fail(base::Code::kIo, std::string("eventfd: ") + std::strerror(errno));
  }
  std::unique_ptr<MetricsHttp> http(
      new MetricsHttp(std::move(listen_fd), std::move(stop_fd), std::move(handlers)));
  http->thread_ = std::thread([p = http.get()] { p->Run(); });
  return http;
}

MetricsHttp::~MetricsHttp() {
  uint64_t one = 1;
  ssize_t ignored = ::write(stop_fd_.get(), &one, sizeof one);
  (void)ignored;
  if (thread_.joinable()) thread_.join();
}

void MetricsHttp::Run() {
  pthread_setname_np(pthread_self(), "metrics-http");
  for (;;) {
    pollfd fds[2] = {{listen_fd_.get(), POLLIN, 0}, {stop_fd_.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      Log(Priority::kErr, "metrics_stopped", {{"reason", std::strerror(errno)}});
      return;
    }
    if (fds[1].revents) return;
    if (!(fds[0].revents & POLLIN)) continue;
    base::UniqueFd fd(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd) continue;  // EAGAIN, or the peer gave up; EMFILE clears when fds are released
    ServeClient(fd.get());
  }
}

void MetricsHttp::ServeClient(int fd) {
  auto deadline = std::chrono::steady_clock::now() + kClientDeadline;
  char buf[kMaxRequestBytes];
  size_t used = 0;
  std::string_view head;
  for (;;) {
    pollfd p = {fd, POLLIN, 0};
    if (::poll(&p, 1, MillisLeft(deadline)) <= 0) return;  // deadline: drop the client
    ssize_t n = ::recv(fd, buf + used, sizeof buf - used, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) return;
    used += static_cast<size_t>(n);
    std::string_view seen(buf, used);
    if (seen.find("\r\n\r\n") != seen.npos || seen.find("\n\n") != seen.npos) {
      head = seen;
      break;
    }
    if (used == sizeof buf) {
      static const char kTooLarge[] =
          "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\n"
          "Connection: close\r\n\r\n";
      ssize_t ignored = ::send(fd, kTooLarge, sizeof kTooLarge - 1, MSG_NOSIGNAL);
      (void)ignored;
      return;
    }
  }
  std::string response = AnswerMetricsRequest(head, handlers_);
  size_t off = 0;
  while (off < response.size()) {
    ssize_t n = ::send(fd, response.data() + off, response.size() - off, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      pollfd p = {fd, POLLOUT, 0};
      if (::poll(&p, 1, MillisLeft(deadline)) <= 0) return;
      continue;
    }
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

}  // namespace provisiond
