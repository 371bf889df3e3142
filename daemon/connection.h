// connection.h — one client connection's state machine, driven by its worker's event loop.
//
//   kHandshake --ok--> kReading --request complete--> kWriting --keep-alive--> kReading
//       |                  |  (Expect: 100-continue: kWriting --> back to kReading)   |
//       +--fail/timeout----+------------- error, close, limit ----------------------> closed
//
// Deadlines: the handshake, each request (first byte to last) and the keep-alive idle wait are
// bounded, so a slow or silent client never holds more than its own small state.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "daemon/config.h"
#include "daemon/est/service.h"
#include "daemon/http/request_parser.h"
#include "daemon/tls/session.h"
#include "db/store.h"

namespace provisiond {

using Clock = std::chrono::steady_clock;

class Connection {
 public:
  // Takes ownership of fd (closed in the destructor).
  Connection(int fd, std::string peer_address, const ServeConfig& config);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  struct Env {  // the worker's shared pieces
    tls::ServerTls& tls;
    est::Service& service;
    db::Store& store;
    tls::CertificateStatusCheck& status_check;
  };

  // Advances as far as the socket allows. Returns false when the connection is finished and
  // should be destroyed.
  bool Drive(Env& env);
  // Called by the worker's sweep; returns false (after logging) if the deadline has passed.
  bool CheckDeadline(Clock::time_point now);
  int fd() const { return fd_; }

 private:
  enum class Phase { kHandshake, kReading, kWriting, kDone };
  enum class AfterWrite { kClose, kNextRequest, kKeepReading };

  bool Start(Env& env);
  bool DriveHandshake(Env& env);
  bool DriveReading(Env& env);
  bool DriveWriting();
  void Respond(http::Response response);
  void RecordHandshakeFailure(Env& env);

  int fd_;
  std::string peer_address_;
  const ServeConfig& config_;
  std::unique_ptr<tls::Session> session_;
  http::RequestParser parser_;
  Phase phase_ = Phase::kHandshake;
  AfterWrite after_write_ = AfterWrite::kClose;
  std::string out_;
  size_t out_offset_ = 0;
  int requests_ = 0;
  Clock::time_point deadline_;
};

}  // namespace provisiond
