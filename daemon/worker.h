// worker.h — one event loop of the server (one per core): accepts from the shared listening
// socket, drives its own connections, and runs the writer's completions posted to its inbox.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/error.h"
#include "base/unique_fd.h"
#include "daemon/admission.h"
#include "daemon/authority/status_check.h"
#include "daemon/config.h"
#include "daemon/connection.h"
#include "daemon/est/service.h"
#include "daemon/flood_budget.h"
#include "daemon/post_queue.h"
#include "daemon/scheduling.h"
#include "daemon/tls/server_tls.h"
#include "db/store.h"
#include "db/writer.h"

namespace provisiond {

// Adds fd to the epoll set for `events`. kIo naming epoll_ctl and errno if it fails.
base::Result<void> WatchFd(int epoll_fd, int fd, uint32_t events);

// A worker's own descriptors: its epoll set (watching the shared listening socket, the stop fd
// and the inbox) and its stop eventfd. kIo naming the call (epoll_create1, eventfd, epoll_ctl)
// if one fails: a worker that cannot be woken or stopped is not started.
struct LoopFds {
  static base::Result<LoopFds> Create(int listen_fd, int inbox_fd);
  base::UniqueFd epoll;
  base::UniqueFd stop;
};

// One event loop: its own epoll set, TLS context, EST service (and issuer), read connection to
// the database, inbox for the writer's completions, and connections.
class Worker {
 public:
  // listen_fd is shared, not owned. Fails as LoopFds::Create does.
  static base::Result<std::unique_ptr<Worker>> Create(const ServeConfig& config, db::Writer& writer,
                                                      std::unique_ptr<db::Store> reader,
                                                      int listen_fd, ConnectionTable& table,
                                                      std::shared_ptr<tls::ServerTls> tls,
                                                      std::unique_ptr<PostQueue> inbox,
                                                      std::unique_ptr<est::Service> service);

  // drain_deadline: when draining (SIGTERM), idle connections (no request under way) close at once and the
  // rest at this time; max() = let them finish by their own deadlines.
  void Stop(Clock::time_point drain_deadline = Clock::time_point::max());

  // Any thread: at the next safe point on the worker thread (between events), new connections
  // start using `tls` and `config`; then `switched` runs there.
  // Any thread: runs `update` on the worker thread at its next safe point, before any Swap posted
  // after it (a CA generation change: est::Service::SetCa).
  void UpdateService(std::function<void(est::Service&)> update) {
    inbox_->Post([this, update = std::move(update)] { update(*service_); });
  }
  void Swap(std::shared_ptr<tls::ServerTls> tls, const ServeConfig* config,
            std::function<void()> switched) {
    inbox_->Post([this, tls = std::move(tls), config, switched = std::move(switched)]() mutable {
      tls_ = std::move(tls);
      config_ = config;
      switched();
    });
  }

  uint64_t turns() const { return turns_.load(std::memory_order_relaxed); }

  // Before Run: every worker of the server (this one is peers[self]), among which a connection
  // this worker admits goes to the one holding the fewest (daemon/scheduling.h).
  void SetPeers(std::vector<Worker*> peers, size_t self) {
    peers_ = std::move(peers);
    self_ = self;
  }
  // Connections this worker holds or has been handed and not adopted yet; any thread.
  int load() const { return load_.load(std::memory_order_relaxed); }

  void Run();

 private:
  Worker(const ServeConfig& config, db::Writer& writer, std::unique_ptr<db::Store> reader,
         int listen_fd, ConnectionTable& table, std::shared_ptr<tls::ServerTls> tls,
         std::unique_ptr<PostQueue> inbox, std::unique_ptr<est::Service> service);
  void Accept();
  void Drive(Connection& c);
  // An admitted socket and what its admission holds in table_ (the source, unless proxied).
  struct Admitted {
    base::UniqueFd fd;
    sockaddr_storage peer;
    bool proxied;
    SourceTable::Key source;
  };
  void Place(Admitted a);
  void Adopt(Admitted a);
  void Forget(const Admitted& a);
  void ServeReady();
  // worker_admit.cc: whether an accepted socket may take a place in the table (per-source
  // limit, then the table, evicting this worker's oldest handshaking connection if it is full).
  bool Admit(const sockaddr_storage& peer, bool proxied, SourceTable::Key& key);
  bool TakeTableSlot(Clock::time_point now);
  bool EvictOldestHandshaking(Clock::time_point now);
  bool EvictNewestSilent(Clock::time_point now);
  void Evict(int fd, Clock::time_point accepted, Clock::time_point now);
  bool AskAnotherWorker();
  void PublishHandshaking();
  void ServeEvictRequests();
  HandshakeQueue::State HandshakeState(int fd, uint64_t id, bool peek) const;
  void NoteRefused(std::string peer, Clock::time_point now);
  void NoteRefusedBySource(std::string peer, Clock::time_point now);
  void NoteEvicted(const Connection& c, Clock::time_point now);
  void LogRefusedIfDue(Clock::time_point now);
  void DeliverTo(int fd, uint64_t id, http::Response response);
  void UnwatchOrLog(int fd, const char* what);
  void Close(int fd);
  void Sweep();
  Connection::Env MakeEnv();

  const ServeConfig* config_;  // swapped by a reload; kept alive by the Server
  db::Writer& writer_;
  std::unique_ptr<db::Store> reader_;
  StoreStatusCheck status_check_;
  int listen_fd_;
  ConnectionTable& table_;  // shared by every worker (admission.h)
  std::shared_ptr<tls::ServerTls> tls_;  // for new connections; a reload replaces it
  // The context built at start: its DRBG is the issuer's and the service's RNG, so it lives as
  // long as the worker.
  std::shared_ptr<tls::ServerTls> first_tls_;
  std::unique_ptr<PostQueue> inbox_;
  std::unique_ptr<est::Service> service_;
  std::atomic<uint64_t> turns_{0};
  std::atomic<Clock::rep> drain_deadline_{Clock::time_point::max().time_since_epoch().count()};
  uint64_t next_id_ = 1;
  base::UniqueFd epoll_fd_;  // from LoopFds
  base::UniqueFd stop_fd_;
  bool stopping_ = false;
  // Stop called (any thread): peers hand this worker no more connections (Place). Handovers
  // posted to it and not adopted yet: it does not leave Run while one is on its way, so a
  // connection accepted elsewhere as it stops is served, not closed (a reset to a device during
  // a restart under socket activation, where the port never closes).
  std::atomic<bool> closing_{false};
  std::atomic<int> handovers_{0};
  std::unordered_map<int, std::unique_ptr<Connection>> conns_;
  // This turn's ready connections, served oldest first and fresh handshakes (ECDHE and a
  // signature, ~1.3 ms each) last, so enrollments under way never queue behind a burst of new
  // handshakes (a fleet coming online, reconnecting slowloris clients). Measured in
  // docs/benchmarks.md: a budget of new handshakes per turn (a FIFO across turns) made the good
  // devices' p99 under a slowloris worse, not better: the burst, first in line, was then served
  // before the devices behind it.
  ReadyOrder ready_;
  std::vector<Worker*> peers_;  // SetPeers; empty: keep every connection accepted here
  size_t self_ = 0;
  std::vector<int> peer_loads_;  // Place's scratch
  std::atomic<int> load_{0};
  // Refusals at accept are all counted (metrics) but logged at most once a second per worker,
  // each line with the number it stands for: a flood must not become a log flood.
  FloodBudget refused_{0, 0};
  std::string refused_last_peer_;
  FloodBudget refused_by_source_{0, 0};  // --max-connections-per-source, logged likewise
  std::string refused_by_source_last_peer_;
  FloodBudget evicted_{0, 0};  // handshaking connections closed for a new one, logged likewise
  std::string evicted_last_peer_;
  Clock::duration evicted_last_age_{};
  // This worker's connections still in their handshake, oldest first (the eviction order), and
  // the source each counted connection holds in table_.sources (proxied peers hold none).
  HandshakeQueue handshaking_;
  std::unordered_map<int, SourceTable::Key> sources_;
  int published_handshaking_ = 0;  // handshaking_.size() as last added to table_.handshaking
};

}  // namespace provisiond
