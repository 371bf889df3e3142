// worker.cc — one per-core event loop: accept and place on the least-loaded worker, serve the
// ready connections oldest first (fresh handshakes last), sweep deadlines (see worker.h).
#include "daemon/worker.h"

#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <memory>
#include <vector>

#include "daemon/log.h"
#include "daemon/metrics.h"
#include "daemon/net.h"

namespace provisiond {

Worker::Worker(const ServeConfig& config, db::Writer& writer, std::unique_ptr<db::Store> reader,
               int listen_fd, ConnectionTable& table, std::shared_ptr<tls::ServerTls> tls,
               std::unique_ptr<PostQueue> inbox, std::unique_ptr<est::Service> service)
    : config_(&config),
      writer_(writer),
      reader_(std::move(reader)),
      status_check_(*reader_),
      listen_fd_(listen_fd),
      table_(table),
      tls_(std::move(tls)),
      first_tls_(tls_),
      inbox_(std::move(inbox)),
      service_(std::move(service)) {}

base::Result<void> WatchFd(int epoll_fd, int fd, uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = fd;
  if (::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
    return base::Fail(base::Code::kIo, std::string("epoll_ctl: ") + std::strerror(errno));
  }
  return {};
}

base::Result<LoopFds> LoopFds::Create(int listen_fd, int inbox_fd) {
  LoopFds fds{base::UniqueFd(::epoll_create1(EPOLL_CLOEXEC)), {}};
  if (!fds.epoll) {
    return base::Fail(base::Code::kIo, std::string("epoll_create1: ") + std::strerror(errno));
  }
  fds.stop.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!fds.stop) {
    return base::Fail(base::Code::kIo, std::string("eventfd: ") + std::strerror(errno));
  }
  for (auto [fd, events] :
       {std::pair{listen_fd, uint32_t{EPOLLIN | EPOLLEXCLUSIVE}},
        std::pair{fds.stop.get(), uint32_t{EPOLLIN}}, std::pair{inbox_fd, uint32_t{EPOLLIN}}}) {
    if (auto r = WatchFd(fds.epoll.get(), fd, events); !r) return std::unexpected(r.error());
  }
  return fds;
}

base::Result<std::unique_ptr<Worker>> Worker::Create(const ServeConfig& config, db::Writer& writer,
                                                     std::unique_ptr<db::Store> reader,
                                                     int listen_fd, ConnectionTable& table,
                                                     std::shared_ptr<tls::ServerTls> tls,
                                                     std::unique_ptr<PostQueue> inbox,
                                                     std::unique_ptr<est::Service> service) {
  auto fds = LoopFds::Create(listen_fd, inbox->fd());
  if (!fds) return std::unexpected(fds.error());
  std::unique_ptr<Worker> w(new Worker(config, writer, std::move(reader), listen_fd, table,
                                       std::move(tls), std::move(inbox), std::move(service)));
  w->epoll_fd_ = std::move(fds->epoll);
  w->stop_fd_ = std::move(fds->stop);
  return w;
}

void Worker::Stop(Clock::time_point drain_deadline) {
  drain_deadline_.store(drain_deadline.time_since_epoch().count());
  closing_.store(true);  // before the stop event: Run checks handovers_ only after it
  uint64_t one = 1;
  ssize_t ignored = ::write(stop_fd_.get(), &one, sizeof one);
  (void)ignored;
}

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

// Events taken per turn: the more of the ready set one turn sees, the closer ReadyOrder's oldest
// first is to the whole worker's.
constexpr int kEventsPerTurn = 256;

void Worker::Run() {
  epoll_event events[kEventsPerTurn];
  auto next_sweep = Clock::now();
  while (!(stopping_ && closing_.load() && conns_.empty() && handovers_.load() == 0)) {
    int n = ::epoll_wait(epoll_fd_.get(), events, kEventsPerTurn, 100);
    turns_.fetch_add(1, std::memory_order_relaxed);
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == listen_fd_) {
        if (!stopping_) Accept();
      } else if (fd == inbox_->fd()) {
        inbox_->RunAll();
      } else if (fd == stop_fd_.get()) {
        // Level-triggered and never read: unwatched with the listener, or every later turn of
        // the drain would wake at once and log a failed unwatch.
        stopping_ = true;
        for (auto& [conn_fd, conn] : conns_) conn->SetDraining();
        UnwatchOrLog(listen_fd_, "listener");
        UnwatchOrLog(stop_fd_.get(), "stop");
      } else if (auto it = conns_.find(fd); it != conns_.end()) {
        ready_.Add(fd, it->second->id(), it->second->Fresh());
      }
    }
    ServeReady();
    ServeEvictRequests();
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
    base::UniqueFd fd(::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len,
                                SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd) return;  // EAGAIN: another worker took it, or the queue is empty
    const bool proxied = PeerInAnyCidr(config_->proxy_protocol_from, ss);
    SourceTable::Key source{};
    if (!Admit(ss, proxied, source)) continue;  // closed here (fd), counted and logged
    GlobalMetrics().connections.Inc("accepted");
    GlobalMetrics().connections_in_flight.Add(1);
    Place(Admitted{std::move(fd), ss, proxied, source});
  }
}

// Accepting worker: the admitted connection goes to the worker holding the fewest (this one on
// a tie), handed over through that worker's inbox; one that is stopping gets none (this one keeps
// it). The handover is counted before `closing_` is read and Stop sets `closing_` before the stop
// event, so a peer that saw no handover under way when it stopped is seen stopping here: it never
// leaves Run with a connection still on its way to it.
void Worker::Place(Admitted a) {
  Worker* to = this;
  if (peers_.size() > 1) {
    peer_loads_.clear();
    // A stopping peer (fewest connections once its idle ones closed) is never picked.
    for (const Worker* w : peers_) {
      peer_loads_.push_back(w->closing_.load() ? INT_MAX : w->load());
    }
    to = peers_[PickWorker(peer_loads_, self_)];
  }
  if (to != this) {
    to->handovers_.fetch_add(1);
    if (to->closing_.load()) {
      to->handovers_.fetch_sub(1);
      to = this;
    }
  }
  to->load_.fetch_add(1, std::memory_order_relaxed);
  if (to == this) return Adopt(std::move(a));
  auto handed = std::make_shared<Admitted>(std::move(a));
  to->inbox_->Post([to, handed] {
    to->Adopt(std::move(*handed));
    to->handovers_.fetch_sub(1);
  });
}

// The admitted connection's place in the table, its source's count and this worker's load,
// given back: it is closed unserved.
void Worker::Forget(const Admitted& a) {
  table_.open.fetch_sub(1);
  if (!a.proxied) table_.sources.Release(a.source);
  load_.fetch_sub(1, std::memory_order_relaxed);
  GlobalMetrics().connections_in_flight.Add(-1);
}

// The worker that owns the connection from now on: its epoll set, TLS context, config, and
// handshake queue (the eviction order).
// A connection handed over as this worker stopped is served like the others (the drain's
// deadline bounds it).
void Worker::Adopt(Admitted a) {
  int one = 1;
  ::setsockopt(a.fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  const int raw = a.fd.get();
  auto watched = WatchFd(epoll_fd_.get(), raw, EPOLLIN | EPOLLOUT | EPOLLET | EPOLLRDHUP);
  if (!watched) {
    // Never driven, so never seen again: close it now (a.fd's destructor) and count it gone.
    Log(Priority::kErr, "connection_dropped",
        {{"peer", FormatAddress(a.peer)}, {"reason", watched.error().detail}});
    return Forget(a);
  }
  auto conn = std::make_unique<Connection>(std::move(a.fd), next_id_++, FormatAddress(a.peer),
                                           *config_, a.proxied);
  if (stopping_) conn->SetDraining();
  const uint64_t id = conn->id();
  conns_.emplace(raw, std::move(conn));
  if (!a.proxied) sources_.emplace(raw, a.source);
  handshaking_.Push({raw, id, Clock::now()});
  PublishHandshaking();
  ready_.Add(raw, id, /*fresh=*/true);  // epoll reports only what happens from now on
}

void Worker::Drive(Connection& c) {
  Connection::Env env = MakeEnv();
  if (!c.Drive(env)) Close(c.fd());
}

void Worker::ServeReady() {
  ready_.ServeAll([this](int fd, uint64_t id) {
    auto it = conns_.find(fd);
    if (it == conns_.end() || it->second->id() != id) return;  // closed meanwhile
    Drive(*it->second);
  });
}

// Removes fd from the epoll set. A failure is logged and otherwise harmless: a connection's
// socket leaves the set when it is closed right after; the listener at shutdown only wakes a
// worker that no longer accepts.
void Worker::UnwatchOrLog(int fd, const char* what) {
  if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, fd, nullptr) != 0) {
    const std::string error = std::strerror(errno);
    Log(Priority::kErr, "epoll_ctl_failed", {{"op", "del"}, {"fd", what}, {"error", error}});
  }
}

void Worker::Close(int fd) {
  UnwatchOrLog(fd, "connection");
  conns_.erase(fd);  // the Connection closes the socket
  if (auto it = sources_.find(fd); it != sources_.end()) {
    table_.sources.Release(it->second);
    sources_.erase(it);
  }
  table_.open.fetch_sub(1);
  load_.fetch_sub(1, std::memory_order_relaxed);
  table_.heap_return.NoteClosed();
  GlobalMetrics().connections_in_flight.Add(-1);
}

// Sessions closed by one sweep after which the worker returns free heap pages to the kernel.
constexpr size_t kTrimAfterClosing = 256;

void Worker::Sweep() {
  auto now = Clock::now();
  LogRefusedIfDue(now);  // the refusals of the last second not logged yet
  ReportSuppressedUnauthenticated(writer_);
  // Draining: nothing is in flight on an idle connection (Connection::Idle), and at the deadline
  // whatever is left is cut (an awaited issuance still commits; the device's retry gets it).
  const bool drain_over = stopping_ && now.time_since_epoch().count() >= drain_deadline_.load();
  std::vector<int> expired;
  size_t cut = 0;
  for (auto& [fd, conn] : conns_) {
    const bool idle = stopping_ && conn->Idle(now);
    if (stopping_ && (idle || drain_over)) {
      cut += !idle;
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
  // A burst that has ended (a storm, all its connections closed normally) leaves its handshake
  // state as free chunks between live ones in the arenas: hand them back once it has drained.
  if (table_.heap_return.Due(table_.open.load(), now)) {
    Log(Priority::kInfo, "heap_returned", {{"kib", std::to_string(ReturnFreeHeap() / 1024)}});
  }
  handshaking_.Compact(
      [this](int fd, uint64_t id) { return HandshakeState(fd, id, /*peek=*/false); });
  PublishHandshaking();
}

}  // namespace provisiond
