// side_http.cc — the bounded plain-HTTP side listener (see side_http.h).
#include "daemon/side_http.h"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "daemon/linger.h"
#include "daemon/log.h"
#include "daemon/net.h"

namespace provisiond {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::string_view kTooLarge =
    "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\n"
    "Connection: close\r\n\r\n";

bool EqualNoCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == (y | 0x20);
         });
}

}  // namespace

std::optional<SideRequest> ParseSideRequest(std::string_view head) {
  std::string_view line = head.substr(0, head.find_first_of("\r\n"));
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.substr(sp2 + 1).rfind("HTTP/1.", 0) != 0) {
    return std::nullopt;
  }
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  return SideRequest{line.substr(0, sp1), target.substr(0, target.find('?'))};
}

std::optional<std::string_view> SideHeader(std::string_view head, std::string_view name) {
  size_t pos = head.find('\n');
  while (pos != std::string_view::npos && pos + 1 < head.size()) {
    size_t start = pos + 1;
    size_t end = head.find('\n', start);
    std::string_view line = head.substr(start, end == head.npos ? head.npos : end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    size_t colon = line.find(':');
    if (colon != line.npos && EqualNoCase(line.substr(0, colon), name)) {
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
        value.remove_prefix(1);
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
        value.remove_suffix(1);
      return value;
    }
    pos = end;
  }
  return std::nullopt;
}

std::string SideResponse(int status, std::string_view reason, std::string_view content_type,
                         std::string_view body, bool head_only, std::string_view extra_headers) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) + "\r\n";
  if (!content_type.empty()) out += "Content-Type: " + std::string(content_type) + "\r\n";
  // A 304 has no body and must not claim the length of one (RFC 9110 §8.6).
  if (status != 304) out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  out += extra_headers;
  out += "Connection: close\r\n\r\n";
  if (!head_only) out += body;
  return out;
}

struct SideHttp::Client {
  base::UniqueFd fd;
  Clock::time_point deadline;
  std::string in;   // the request head so far, at most kMaxRequestBytes
  std::string out;  // the answer, once the head is complete
  size_t sent = 0;
  bool answering = false;
  bool linger = false;     // the answer refuses a head not read to its end (431): linger after it
  bool lingering = false;  // answered, write side shut: discarding what the client still sends
  LingerDrain drain;
};

SideHttp::SideHttp(base::UniqueFd listen_fd, base::UniqueFd stop_fd, SideAnswer answer)
    : listen_fd_(std::move(listen_fd)),
      stop_fd_(std::move(stop_fd)),
      answer_(std::move(answer)),
      address_(LocalAddress(listen_fd_.get())) {}

base::Result<std::unique_ptr<SideHttp>> SideHttp::Start(base::UniqueFd listen_fd, SideAnswer answer,
                                                        std::string thread_name,
                                                        std::chrono::milliseconds deadline) {
  base::UniqueFd stop_fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!stop_fd) {
    return base::Fail(base::Code::kIo, std::string("eventfd: ") + std::strerror(errno));
  }
  std::unique_ptr<SideHttp> http(
      new SideHttp(std::move(listen_fd), std::move(stop_fd), std::move(answer)));
  http->thread_name_ = thread_name.substr(0, 15);
  http->deadline_ = deadline;
  http->thread_ = std::thread([p = http.get()] { p->Run(); });
  return http;
}

SideHttp::~SideHttp() {
  uint64_t one = 1;
  ssize_t ignored = ::write(stop_fd_.get(), &one, sizeof one);
  (void)ignored;
  if (thread_.joinable()) thread_.join();
}

void SideHttp::Accept(std::vector<Client>& clients) {
  base::UniqueFd fd(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
  if (!fd) return;  // EAGAIN, or the peer gave up; EMFILE clears when fds are released
  if (clients.size() >= kMaxClients) return;  // full: closed at once, the others keep their slots
  clients.push_back(Client{.fd = std::move(fd), .deadline = Clock::now() + deadline_});
}

bool SideHttp::Step(Client& c) {
  if (c.lingering) return c.drain.Read(c.fd.get());
  if (!c.answering) {
    char buf[kMaxRequestBytes];
    ssize_t n = ::recv(c.fd.get(), buf, kMaxRequestBytes - c.in.size(), 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
    if (n <= 0) return false;
    c.in.append(buf, static_cast<size_t>(n));
    if (c.in.find("\r\n\r\n") != c.in.npos || c.in.find("\n\n") != c.in.npos) {
      c.out = answer_(c.in);
    } else if (c.in.size() >= kMaxRequestBytes) {
      c.out = kTooLarge;
      c.linger = true;
    } else {
      return true;
    }
    c.answering = true;
  }
  while (c.sent < c.out.size()) {
    ssize_t n = ::send(c.fd.get(), c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
    if (n <= 0) return false;
    c.sent += static_cast<size_t>(n);
  }
  if (!c.linger) return false;  // answered; Connection: close
  // The client may still be sending the head it was refused: a close now, with its input unread,
  // would reset the connection before it reads the 431. Linger instead (linger.h), bounded.
  if (::shutdown(c.fd.get(), SHUT_WR) != 0) return false;
  c.lingering = true;
  c.deadline = Clock::now() + std::min<Clock::duration>(kLingerTime, deadline_);
  return c.drain.Read(c.fd.get());
}

void SideHttp::Run() {
  pthread_setname_np(pthread_self(), thread_name_.c_str());
  std::vector<Client> clients;
  std::vector<pollfd> fds;
  for (;;) {
    fds.assign({{listen_fd_.get(), POLLIN, 0}, {stop_fd_.get(), POLLIN, 0}});
    auto first_deadline = Clock::time_point::max();
    for (const Client& c : clients) {
      const bool writing = c.answering && !c.lingering;
      fds.push_back({c.fd.get(), static_cast<short>(writing ? POLLOUT : POLLIN), 0});
      first_deadline = std::min(first_deadline, c.deadline);
    }
    int timeout = -1;
    if (!clients.empty()) {
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(first_deadline - Clock::now());
      timeout = static_cast<int>(std::max<int64_t>(0, left.count()) + 1);
    }
    if (::poll(fds.data(), fds.size(), timeout) < 0) {
      if (errno == EINTR) continue;
      Log(Priority::kErr, "side_http_stopped",
          {{"thread", thread_name_}, {"reason", std::strerror(errno)}});
      return;
    }
    if (fds[1].revents) return;
    const auto now = Clock::now();
    std::vector<Client> kept;
    kept.reserve(clients.size() + 1);
    for (size_t i = 0; i < clients.size(); ++i) {
      Client& c = clients[i];
      bool alive = fds[i + 2].revents ? Step(c) : true;
      if (alive && now < c.deadline) kept.push_back(std::move(c));  // else cut at its deadline
    }
    clients = std::move(kept);
    if (fds[0].revents & POLLIN) Accept(clients);
  }
}

}  // namespace provisiond
