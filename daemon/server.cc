// server.cc — listener and per-core event loops (see server.h).
#include "daemon/server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <malloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <unordered_map>

#include "ca/issuer.h"
#include "daemon/connection.h"
#include "daemon/est/service.h"
#include "daemon/flood_budget.h"
#include "daemon/log.h"
#include "daemon/metrics.h"
#include "daemon/net.h"
#include "daemon/post_queue.h"

namespace provisiond {
namespace {

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

// One event loop: its own epoll set, TLS context, EST service (and issuer), read connection to
// the database, inbox for the writer's completions, and connections.
class Worker {
 public:
  Worker(const ServeConfig& config, db::Writer& writer, std::unique_ptr<db::Store> reader,
         int listen_fd, std::atomic<int>& connections, std::shared_ptr<tls::ServerTls> tls,
         std::unique_ptr<PostQueue> inbox, std::unique_ptr<est::Service> service)
      : config_(&config),
        writer_(writer),
        reader_(std::move(reader)),
        status_check_(*reader_),
        listen_fd_(listen_fd),
        connections_(connections),
        tls_(std::move(tls)),
        first_tls_(tls_),
        inbox_(std::move(inbox)),
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
    ev.data.fd = inbox_->fd();
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, inbox_->fd(), &ev);
  }
  ~Worker() {
    ::close(epoll_fd_);
    ::close(stop_fd_);
  }

  // drain_deadline: when draining (SIGTERM), idle keep-alive connections close at once and the
  // rest at this time; max() = let them finish by their own deadlines.
  void Stop(Clock::time_point drain_deadline = Clock::time_point::max()) {
    drain_deadline_.store(drain_deadline.time_since_epoch().count());
    uint64_t one = 1;
    ssize_t ignored = ::write(stop_fd_, &one, sizeof one);
    (void)ignored;
  }

  // Any thread: at the next safe point on the worker thread (between events), new connections
  // start using `tls` and `config`; then `switched` runs there.
  void Swap(std::shared_ptr<tls::ServerTls> tls, const ServeConfig* config,
            std::function<void()> switched) {
    inbox_->Post([this, tls = std::move(tls), config, switched = std::move(switched)]() mutable {
      tls_ = std::move(tls);
      config_ = config;
      switched();
    });
  }

  uint64_t turns() const { return turns_.load(std::memory_order_relaxed); }

  void Run();

 private:
  void Accept();
  void Drive(Connection& c);
  void Defer(Connection& c);
  void DriveDeferred();
  void NoteRefused(std::string peer, Clock::time_point now);
  void LogRefusedIfDue(Clock::time_point now);
  void DeliverTo(int fd, uint64_t id, http::Response response);
  void Close(int fd);
  void Sweep();
  Connection::Env MakeEnv();

  const ServeConfig* config_;  // swapped by a reload; kept alive by the Server
  db::Writer& writer_;
  std::unique_ptr<db::Store> reader_;
  StoreStatusCheck status_check_;
  int listen_fd_;
  std::atomic<int>& connections_;
  std::shared_ptr<tls::ServerTls> tls_;  // for new connections; a reload replaces it
  // The context built at start: its DRBG is the issuer's and the service's RNG, so it lives as
  // long as the worker.
  std::shared_ptr<tls::ServerTls> first_tls_;
  std::unique_ptr<PostQueue> inbox_;
  std::unique_ptr<est::Service> service_;
  std::atomic<uint64_t> turns_{0};
  std::atomic<Clock::rep> drain_deadline_{Clock::time_point::max().time_since_epoch().count()};
  uint64_t next_id_ = 1;
  int epoll_fd_ = -1;
  int stop_fd_ = -1;
  bool stopping_ = false;
  std::unordered_map<int, std::unique_ptr<Connection>> conns_;
  // Fresh connections that became readable this turn (fd, id), oldest first: their first step
  // (ECDHE and a signature, ~1.3 ms each) runs after every other ready connection was served,
  // so enrollments already under way never queue behind a burst of new handshakes (a fleet
  // coming online, reconnecting slowloris clients). Measured in docs/benchmarks.md: a budget of
  // new handshakes per turn (a FIFO across turns) made the good devices' p99 under a slowloris
  // worse, not better: the burst, first in line, was then served before the devices behind it.
  std::deque<std::pair<int, uint64_t>> deferred_;
  // Refusals at accept are all counted (metrics) but logged at most once a second per worker,
  // each line with the number it stands for: a flood must not become a log flood.
  FloodBudget refused_{0, 0};
  std::string refused_last_peer_;
};

Connection::Env Worker::MakeEnv() {
  return Connection::Env{tls_, *service_, writer_, status_check_, [this](int fd, uint64_t id) {
                           return est::Service::Reply([this, fd, id](http::Response r) {
                             DeliverTo(fd, id, std::move(r));
                           });
                         }};
}

// Worker thread (from the inbox): the connection may have timed out or closed meanwhile.
void Worker::DeliverTo(int fd, uint64_t id, http::Response response) {
  auto it = conns_.find(fd);
  if (it == conns_.end() || it->second->id() != id) return;
  Connection::Env env = MakeEnv();
  if (!it->second->Deliver(std::move(response), env)) Close(fd);
}

void Worker::Run() {
  epoll_event events[64];
  auto next_sweep = Clock::now();
  while (!(stopping_ && conns_.empty())) {
    int n = ::epoll_wait(epoll_fd_, events, 64, 100);
    turns_.fetch_add(1, std::memory_order_relaxed);
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == listen_fd_) {
        if (!stopping_) Accept();
      } else if (fd == inbox_->fd()) {
        inbox_->RunAll();
      } else if (fd == stop_fd_) {
        stopping_ = true;
        ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, listen_fd_, nullptr);
      } else if (auto it = conns_.find(fd); it != conns_.end()) {
        if (it->second->Fresh()) {
          Defer(*it->second);
        } else {
          Drive(*it->second);
        }
      }
    }
    DriveDeferred();
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
    int fd =
        ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN: another worker took it, or the queue is empty
    if (connections_.fetch_add(1) >= config_->limits.max_connections) {
      connections_.fetch_sub(1);
      ::close(fd);
      GlobalMetrics().connections.Inc("refused");
      NoteRefused(FormatAddress(ss), Clock::now());
      continue;
    }
    GlobalMetrics().connections.Inc("accepted");
    GlobalMetrics().connections_in_flight.Add(1);
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto conn = std::make_unique<Connection>(fd, next_id_++, FormatAddress(ss), *config_);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLET | EPOLLRDHUP;
    ev.data.fd = fd;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
    Connection& c = *conn;
    conns_.emplace(fd, std::move(conn));
    Defer(c);
  }
}

void Worker::NoteRefused(std::string peer, Clock::time_point now) {
  refused_.Admit(/*row=*/false, now);  // counted only: the budget admits nothing
  refused_last_peer_ = std::move(peer);
  LogRefusedIfDue(now);
}

void Worker::LogRefusedIfDue(Clock::time_point now) {
  auto refused = refused_.TakeSummaryIfDue(now);
  if (!refused) return;
  Log(Priority::kWarning, "connection_refused",
      {{"peer", refused_last_peer_},
       {"reason", "max connections reached"},
       {"refused", std::to_string(refused->events)},
       {"max_connections", std::to_string(config_->limits.max_connections)}});
}

void Worker::Drive(Connection& c) {
  Connection::Env env = MakeEnv();
  if (!c.Drive(env)) Close(c.fd());
}

void Worker::Defer(Connection& c) {
  // epoll reports an fd once per turn, and Accept adds connections it did not report.
  deferred_.emplace_back(c.fd(), c.id());
}

void Worker::DriveDeferred() {
  while (!deferred_.empty()) {
    auto [fd, id] = deferred_.front();
    deferred_.pop_front();
    auto it = conns_.find(fd);
    if (it == conns_.end() || it->second->id() != id) continue;  // closed meanwhile
    Drive(*it->second);
  }
}

void Worker::Close(int fd) {
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  conns_.erase(fd);  // the Connection closes the socket
  connections_.fetch_sub(1);
  GlobalMetrics().connections_in_flight.Add(-1);
}

// Sessions closed by one sweep after which the worker returns free heap pages to the kernel.
constexpr size_t kTrimAfterClosing = 256;

void Worker::Sweep() {
  auto now = Clock::now();
  LogRefusedIfDue(now);  // the refusals of the last second not logged yet
  ReportSuppressedUnauthenticated(writer_);
  // Draining: nothing is in flight on an idle keep-alive connection, and at the drain deadline
  // whatever is left is cut (an awaited issuance still commits; the device's retry gets it).
  const bool drain_over = stopping_ && now.time_since_epoch().count() >= drain_deadline_.load();
  std::vector<int> expired;
  size_t cut = 0;
  for (auto& [fd, conn] : conns_) {
    if (stopping_ && (conn->Idle() || drain_over)) {
      cut += !conn->Idle();
      expired.push_back(fd);
    } else if (!conn->CheckDeadline(now)) {
      expired.push_back(fd);
    }
  }
  if (cut > 0) {
    Log(Priority::kWarning, "drain_timeout", {{"closed_in_flight", std::to_string(cut)}});
  }
  for (int fd : expired) Close(fd);
  // A wave of timeouts (a slowloris, a stalled fleet) freed many sessions' handshake state into
  // this thread's malloc arena; hand the free pages back rather than keep the peak for good.
  if (expired.size() >= kTrimAfterClosing) malloc_trim(0);
}

Server::Server(std::shared_ptr<const ServeConfig> config, db::Store& store)
    : configs_{config},
      config_(*configs_.front()),
      store_(store),
      writer_(
          std::make_unique<db::Writer>(store, config_.limits.max_pending_writes, /*max_batch=*/256,
                                       std::chrono::milliseconds(config_.limits.commit_delay_ms))),
      enroll_shared_{&config_, *writer_, RateLimiter(config_.policy.device_rate),
                     RateLimiter(config_.policy.address_rate)} {}

Server::~Server() {
  // Finish queued writes while the workers (and their inboxes) still exist; what the writer posts
  // now is never run, since the worker threads have stopped.
  writer_.reset();
  if (listen_fd_ >= 0) ::close(listen_fd_);
}

ca::Result<std::unique_ptr<Server>> Server::Create(std::shared_ptr<const ServeConfig> shared_config,
                                                   const tls::Material& material,
                                                   const std::string& ca_key_pem, db::Store& store,
                                                   int listen_fd) {
  std::unique_ptr<Server> server(new Server(std::move(shared_config), store));
  const ServeConfig& config = server->config_;
  if (listen_fd >= 0) {
    server->listen_fd_ = listen_fd;
    server->address_ = LocalAddress(listen_fd);
  } else {
    auto fd = Listen(config.listen, &server->address_);
    if (!fd) return std::unexpected(fd.error());
    server->listen_fd_ = *fd;
  }
  int workers =
      config.workers > 0 ? config.workers : static_cast<int>(std::thread::hardware_concurrency());
  workers = std::clamp(workers, 1, kMaxWorkers);  // the CLI refuses more; a huge box gets 256
  for (int i = 0; i < workers; ++i) {
    auto tls = tls::ServerTls::Create(material, config.tls_min_minor, config.client_auth);
    if (!tls) return std::unexpected(tls.error());
    auto issuer = ca::Issuer::Load(material.ca_cert_pem, ca_key_pem, (*tls)->rng());
    if (!issuer) return std::unexpected(issuer.error());
    auto reader = db::Store::Open(StatePaths(config.state_dir).database);
    if (!reader) return ca::Fail(ca::Code::kIo, "database (reader): " + reader.error().detail);
    auto inbox = std::make_unique<PostQueue>();
    auto service = std::make_unique<est::Service>(server->enroll_shared_, std::move(*issuer),
                                                  (*tls)->rng(), *inbox, **reader);
    server->workers_.push_back(std::make_unique<Worker>(
        config, *server->writer_, std::move(*reader), server->listen_fd_, server->connections_,
        std::shared_ptr<tls::ServerTls>(std::move(*tls)), std::move(inbox), std::move(service)));
  }
  return server;
}

void Server::Run() {
  for (size_t i = 0; i < workers_.size(); ++i) {
    threads_.emplace_back([this, i] {
      std::string name = "worker-" + std::to_string(i);  // top -H, ps -L (at most 15 characters)
      pthread_setname_np(pthread_self(), name.c_str());
      workers_[i]->Run();
    });
  }
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void Server::Stop() {
  for (auto& w : workers_) w->Stop();
}

void Server::Drain(std::chrono::milliseconds deadline) {
  auto at = Clock::now() + deadline;
  for (auto& w : workers_) w->Stop(at);
}

uint64_t Server::heartbeat() const {
  uint64_t least = UINT64_MAX;
  for (const auto& w : workers_) least = std::min(least, w->turns());
  return least;
}

ca::Result<void> Server::Reload(std::shared_ptr<const ServeConfig> config,
                                const tls::Material& material) {
  // Build everything first: a context that fails leaves every worker as it was.
  std::vector<std::shared_ptr<tls::ServerTls>> contexts;
  for (size_t i = 0; i < workers_.size(); ++i) {
    auto tls = tls::ServerTls::Create(material, config->tls_min_minor, config_.client_auth);
    if (!tls) return std::unexpected(tls.error());
    contexts.push_back(std::move(*tls));
  }
  configs_.push_back(config);
  enroll_shared_.current_config.store(config.get(), std::memory_order_release);
  struct Pending {
    std::mutex mu;
    std::condition_variable cv;
    size_t left;
  };
  auto pending = std::make_shared<Pending>();
  pending->left = workers_.size();
  for (size_t i = 0; i < workers_.size(); ++i) {
    workers_[i]->Swap(std::move(contexts[i]), config.get(), [pending] {
      std::lock_guard lock(pending->mu);
      if (--pending->left == 0) pending->cv.notify_all();
    });
  }
  std::unique_lock lock(pending->mu);
  if (!pending->cv.wait_for(lock, std::chrono::seconds(5), [&] { return pending->left == 0; })) {
    Log(Priority::kWarning, "reload_slow",
        {{"workers_not_switched", std::to_string(pending->left)}});
  }
  return {};
}

}  // namespace provisiond
