// server.h — the listener and the worker threads. Each worker runs its own epoll loop over its
// own connections with its own TLS context and issuer (crypto on every core, no shared mutable
// mbedTLS state); the non-blocking listening socket is shared with EPOLLEXCLUSIVE so one worker
// wakes per new connection. Only the Store is shared, and it serialises itself.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/error.h"
#include "base/unique_fd.h"
#include "daemon/admission.h"
#include "daemon/authority/enrollment.h"
#include "daemon/authority/status_check.h"
#include "daemon/ca_generations.h"
#include "daemon/ca_key_source.h"
#include "daemon/config.h"
#include "daemon/store_open.h"
#include "daemon/tls/server_tls.h"
#include "db/writer.h"

namespace provisiond {

class Worker;

class Server {
 public:
  // Binds config.listen (port 0 picks a free port), or, if listen_fd holds one, serves that already
  // listening socket instead (socket activation: systemd bound it; the Server owns it from now
  // on). Builds every worker's TLS context from the PEM material and its issuer from ca.crt and a
  // CaKey of its own from ca_key. Fails with the first problem found.
  // store: the database all writes go through (its writer thread commits them in groups). Each
  // worker also opens its own read connection to the same database for handshake-time lookups.
  // ca_set: the CA generations in force (daemon/ca_generations.h): ca_key is the active
  // generation's key and material.ca_cert_pem its certificate; previous_key (nullptr: none) is
  // ca_set.previous_gen's, whose issuer signs intents reserved before the last activation.
  static base::Result<std::unique_ptr<Server>> Create(std::shared_ptr<const ServeConfig> config,
                                                      const tls::Material& material,
                                                      CaKeySource& ca_key,
                                                      ServeStore& store,
                                                      const CaSet& ca_set,
                                                      base::UniqueFd listen_fd = {},
                                                      CaKeySource* previous_key = nullptr);
  ~Server();

  // "127.0.0.1:43123": the address actually bound.
  const std::string& address() const { return address_; }
  // Starts the workers and blocks until Stop() has been called and they have finished.
  void Run();
  // Safe to call from any thread: stops accepting, lets open connections finish (bounded by
  // their deadlines), then Run() returns.
  void Stop();
  // Stop(), but idle keep-alive connections are closed at once and whatever is still open
  // `deadline` from now is closed then (SIGTERM).
  void Drain(std::chrono::milliseconds deadline);

  // SIGHUP, from any one thread at a time while Run() runs. Builds a new TLS context per worker
  // from `material` (trust store, server certificate; the CA must be the one the server started
  // with) and, only if all of them build, hands each worker its new context and `config` at a
  // safe point on its own thread, waiting (up to 5 s) until every worker has switched. New
  // connections use the new context and config; established ones keep theirs until they close.
  // Fails, changing nothing, with the first problem found. Settings fixed at start (listen,
  // workers, rate limits, client-auth, identity) are taken from the running config, whatever
  // `config` says (see daemon/reload.h).
  // With `ca_set` (a CA generation was rolled over, activated or retired: the store's set differs
  // from the one in force), each worker also gets a new issuer from `ca_key` (the new active
  // generation's key; it must outlive the Server) and the new /cacerts, before its new TLS
  // context; enrollments under way finish with the issuer they started with. previous_key as in
  // Create (it must outlive the Server too).
  base::Result<void> Reload(std::shared_ptr<const ServeConfig> config,
                            const tls::Material& material, const CaSet* ca_set = nullptr,
                            CaKeySource* ca_key = nullptr, CaKeySource* previous_key = nullptr);

  // The smallest number of event-loop turns any worker has made: it stops growing if one
  // worker is stuck (the watchdog pings only while it grows). Each loop turns at least every
  // 100 ms.
  uint64_t heartbeat() const;
  // The database writer's counters (group commits, commit latency) for /metrics.
  db::Writer::Stats writer_stats() const { return writer_->stats(); }
  size_t writer_queue_depth() const { return writer_->queue_depth(); }

 private:
  Server(std::shared_ptr<const ServeConfig> config, std::unique_ptr<db::Writer> writer);

  // Every config this process has run with, oldest first. Configs are immutable and never freed
  // before the Server, so a reference into one (a connection's limits, an in-flight
  // enrollment's profile) stays valid across reloads; a reload adds a few KiB.
  std::vector<std::shared_ptr<const ServeConfig>> configs_;
  const ServeConfig& config_;  // the first: settings fixed at start
  // Destroyed first (see ~Server): its completions post into the workers' inboxes.
  std::unique_ptr<db::Writer> writer_;
  // The config in force for new requests (est::Service's routes); enroll_shared_ holds the
  // authority's part of the same config. Both swapped by Reload.
  std::atomic<const ServeConfig*> current_config_;
  EnrollShared enroll_shared_;
  base::UniqueFd listen_fd_;
  std::string address_;
  ConnectionTable table_;  // every worker's count, per source and daemon-wide
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
};

}  // namespace provisiond
