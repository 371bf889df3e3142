// server.h — the listener and the worker threads. Each worker runs its own epoll loop over its
// own connections with its own TLS context and issuer (crypto on every core, no shared mutable
// mbedTLS state); the non-blocking listening socket is shared with EPOLLEXCLUSIVE so one worker
// wakes per new connection. Only the Store is shared, and it serialises itself.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "ca/error.h"
#include "daemon/config.h"
#include "daemon/enrollment.h"
#include "daemon/status_check.h"
#include "daemon/tls/server_tls.h"
#include "db/store.h"

namespace provisiond {

class Worker;

class Server {
 public:
  // Binds config.listen (port 0 picks a free port) and builds every worker's TLS context and
  // issuer from the PEM material. Fails with the first problem found.
  static ca::Result<std::unique_ptr<Server>> Create(const ServeConfig& config,
                                                    const tls::Material& material,
                                                    const std::string& ca_key_pem,
                                                    db::Store& store);
  ~Server();

  // "127.0.0.1:43123": the address actually bound.
  const std::string& address() const { return address_; }
  // Starts the workers and blocks until Stop() has been called and they have finished.
  void Run();
  // Safe to call from any thread: stops accepting, lets open connections finish (bounded by
  // their deadlines), then Run() returns.
  void Stop();

 private:
  Server(const ServeConfig& config, db::Store& store);

  const ServeConfig& config_;
  db::Store& store_;
  EnrollShared enroll_shared_;
  StoreStatusCheck status_check_;
  int listen_fd_ = -1;
  std::string address_;
  std::atomic<int> connections_{0};
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
};

}  // namespace provisiond
