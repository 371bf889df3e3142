// server.cc — listener and per-core event loops (see server.h).
#include "daemon/server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <unordered_map>

#include "ca/issuer.h"
#include "daemon/connection.h"
#include "daemon/est/service.h"
#include "daemon/log.h"

namespace provisiond {
namespace {

std::string FormatAddress(const sockaddr_storage& ss) {
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (ss.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    port = ntohs(in->sin_port);
    return std::string(host) + ":" + std::to_string(port);
  }
  const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
  inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
  port = ntohs(in6->sin6_port);
  return "[" + std::string(host) + "]:" + std::to_string(port);
}

ca::Result<int> Listen(const std::string& listen, std::string* bound) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    return ca::Fail(ca::Code::kInvalidArgument, "--listen wants ADDR:PORT, got " + listen);
  }
  std::string host = listen.substr(0, colon), port = listen.substr(colon + 1);
  if (host.size() > 1 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  addrinfo hints{};
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    return ca::Fail(ca::Code::kInvalidArgument, "--listen " + listen + ": " + gai_strerror(rc));
  }
  int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  if (fd >= 0) ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (fd < 0 || ::bind(fd, res->ai_addr, res->ai_addrlen) != 0 || ::listen(fd, 4096) != 0) {
    std::string err = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    freeaddrinfo(res);
    return ca::Fail(ca::Code::kIo, "listen on " + listen + ": " + err);
  }
  freeaddrinfo(res);
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  *bound = FormatAddress(ss);
  return fd;
}

}  // namespace

// One event loop: its own epoll set, TLS context, EST service (and issuer) and connections.
class Worker {
 public:
  Worker(const ServeConfig& config, db::Store& store, tls::CertificateStatusCheck& status_check,
         int listen_fd, std::atomic<int>& connections, std::unique_ptr<tls::ServerTls> tls,
         std::unique_ptr<est::Service> service)
      : config_(config),
        store_(store),
        status_check_(status_check),
        listen_fd_(listen_fd),
        connections_(connections),
        tls_(std::move(tls)),
        service_(std::move(service)) {
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    stop_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    ev.data.fd = listen_fd_;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev);
    ev.events = EPOLLIN;
    ev.data.fd = stop_fd_;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, stop_fd_, &ev);
  }
  ~Worker() {
    ::close(epoll_fd_);
    ::close(stop_fd_);
  }

  void Stop() {
    uint64_t one = 1;
    ssize_t ignored = ::write(stop_fd_, &one, sizeof one);
    (void)ignored;
  }

  void Run();

 private:
  void Accept();
  void Drive(Connection& c);
  void Close(int fd);
  void Sweep();

  const ServeConfig& config_;
  db::Store& store_;
  tls::CertificateStatusCheck& status_check_;
  int listen_fd_;
  std::atomic<int>& connections_;
  std::unique_ptr<tls::ServerTls> tls_;
  std::unique_ptr<est::Service> service_;
  int epoll_fd_ = -1;
  int stop_fd_ = -1;
  bool stopping_ = false;
  std::unordered_map<int, std::unique_ptr<Connection>> conns_;
};

void Worker::Run() {
  epoll_event events[64];
  auto next_sweep = Clock::now();
  while (!(stopping_ && conns_.empty())) {
    int n = ::epoll_wait(epoll_fd_, events, 64, 100);
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == listen_fd_) {
        if (!stopping_) Accept();
      } else if (fd == stop_fd_) {
        stopping_ = true;
        ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, listen_fd_, nullptr);
      } else if (auto it = conns_.find(fd); it != conns_.end()) {
        Drive(*it->second);
      }
    }
    if (Clock::now() >= next_sweep) {
      Sweep();
      next_sweep = Clock::now() + std::chrono::milliseconds(100);
    }
  }
}

void Worker::Accept() {
  for (int i = 0; i < 64; ++i) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN: another worker took it, or the queue is empty
    if (connections_.fetch_add(1) >= config_.limits.max_connections) {
      connections_.fetch_sub(1);
      ::close(fd);
      Log(Priority::kWarning, "connection_refused",
          {{"peer", FormatAddress(ss)}, {"reason", "max connections reached"}});
      continue;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto conn = std::make_unique<Connection>(fd, FormatAddress(ss), config_);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLET | EPOLLRDHUP;
    ev.data.fd = fd;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
    Connection& c = *conn;
    conns_.emplace(fd, std::move(conn));
    Drive(c);
  }
}

void Worker::Drive(Connection& c) {
  Connection::Env env{*tls_, *service_, store_, status_check_};
  if (!c.Drive(env)) Close(c.fd());
}

void Worker::Close(int fd) {
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  conns_.erase(fd);  // the Connection closes the socket
  connections_.fetch_sub(1);
}

void Worker::Sweep() {
  auto now = Clock::now();
  std::vector<int> expired;
  for (auto& [fd, conn] : conns_) {
    if (!conn->CheckDeadline(now)) expired.push_back(fd);
  }
  for (int fd : expired) Close(fd);
}

Server::Server(const ServeConfig& config, db::Store& store)
    : config_(config),
      store_(store),
      enroll_shared_{config, store, RateLimiter(config.policy.device_rate),
                     RateLimiter(config.policy.address_rate)},
      status_check_(store) {}

Server::~Server() {
  if (listen_fd_ >= 0) ::close(listen_fd_);
}

ca::Result<std::unique_ptr<Server>> Server::Create(const ServeConfig& config,
                                                   const tls::Material& material,
                                                   const std::string& ca_key_pem,
                                                   db::Store& store) {
  std::unique_ptr<Server> server(new Server(config, store));
  auto fd = Listen(config.listen, &server->address_);
  if (!fd) return std::unexpected(fd.error());
  server->listen_fd_ = *fd;
  int workers = config.workers > 0 ? config.workers
                                   : static_cast<int>(std::thread::hardware_concurrency());
  if (workers <= 0) workers = 1;
  for (int i = 0; i < workers; ++i) {
    auto tls = tls::ServerTls::Create(material, config.tls_min_minor, config.client_auth);
    if (!tls) return std::unexpected(tls.error());
    auto issuer = ca::Issuer::Load(material.ca_cert_pem, ca_key_pem, (*tls)->rng());
    if (!issuer) return std::unexpected(issuer.error());
    auto service = std::make_unique<est::Service>(server->enroll_shared_, std::move(*issuer),
                                                  (*tls)->rng());
    server->workers_.push_back(std::make_unique<Worker>(
        config, store, server->status_check_, server->listen_fd_, server->connections_,
        std::move(*tls), std::move(service)));
  }
  return server;
}

void Server::Run() {
  for (auto& w : workers_) threads_.emplace_back([&w] { w->Run(); });
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void Server::Stop() {
  for (auto& w : workers_) w->Stop();
}

}  // namespace provisiond
