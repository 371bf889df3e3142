// connection.h — one client connection's state machine, driven by its worker's event loop.
//
//   kHandshake --ok--> kReading --request complete--> [kAwaiting] --> kWriting --keep-alive--> kReading
//       |                  |  (Expect: 100-continue: kWriting --> back to kReading)           |
//       +--fail/timeout----+------------- error, close, limit ------------------------------> closed
//                          |
//                          +--request refused unread (400/411/413/431)--> kWriting --> kLingering --> closed
//
// kLingering (connection_linger.cc), the "lingering close" of Apache and nginx: a request the
// parser refused was not read to its end, and the client may still be sending it (a 413's body).
// Closing a socket with unread input sends a TCP RST, which makes the client's send fail and can
// discard the answer before it reads it: curl then reports no response at all. So after such an
// answer and its close_notify are flushed, the write side is shut (the client sees EOF), and
// what the client still sends is read and discarded unparsed, until its EOF, kLingerMaxBytes, or
// kLingerTime (at most the request timeout; both in linger.h, shared with the side listeners);
// then the socket is closed.
//
// kAwaiting: an enrollment waits for the database writer's group commits; the reply arrives
// through the worker's PostQueue (Deliver). If the connection is gone by then, the reply is
// dropped: the certificate stays committed and the device's retry gets it back.
//
// Before kHandshake's first TLS byte, the opening is screened (connection_proxy.cc): a peer in
// --proxy-protocol-from must first send a PROXY protocol v2 header, which is peeked (never more
// than proxy::kMaxHeaderBytes, on the stack), parsed (daemon/proxy_header.h), then read off the
// socket, and its source address replaces the peer's; any other peer whose first bytes are a
// PROXY header (v2 or v1) is closed. Either refusal is one `proxy_refused` line and a metric.
// The handshake deadline covers the header too.
//
// Deadlines: the handshake, each request (first byte to last) and the keep-alive idle wait are
// bounded, so a slow or silent client never holds more than its own small state. Those three
// are the configured value plus up to 25 % at random, so clients cut off together do not
// reconnect together.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "base/secret_buffer.h"
#include "base/unique_fd.h"
#include "daemon/config.h"
#include "daemon/est/service.h"
#include "daemon/http/request_parser.h"
#include "daemon/linger.h"
#include "daemon/tls/session.h"
#include "db/writer.h"

namespace provisiond {

using Clock = std::chrono::steady_clock;

class Connection {
 public:
  // Takes ownership of fd (closed in the destructor). id is unique per worker, so a late reply
  // can never reach a newer connection that reuses the fd number.
  // proxy_header_required: the peer is in --proxy-protocol-from, so the connection must start
  // with a PROXY protocol v2 header.
  Connection(base::UniqueFd fd, uint64_t id, std::string peer_address, const ServeConfig& config,
             bool proxy_header_required);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  struct Env {  // the worker's shared pieces
    // The worker's current TLS context; a connection keeps the one it started with (a SIGHUP
    // reload gives the worker a new one for new connections only).
    std::shared_ptr<tls::ServerTls> tls;
    est::Service& service;
    db::Writer& writer;
    CertificateStatusCheck& status_check;
    // A reply callback that finds this connection again by (fd, id) on the worker thread.
    std::function<est::Service::Reply(int fd, uint64_t id)> make_reply;
  };

  // Advances as far as the socket allows. Returns false when the connection is finished and
  // should be destroyed.
  bool Drive(Env& env);
  // The response an awaited enrollment produced. Returns like Drive.
  bool Deliver(http::Response response, Env& env);
  // Called by the worker's sweep; returns false (after logging) if the deadline has passed.
  bool CheckDeadline(Clock::time_point now);
  int fd() const { return fd_.get(); }
  uint64_t id() const { return id_; }
  // The TLS handshake (or the PROXY header before it) is not finished: the connection may be
  // evicted when the table is full (worker_admit.cc), first if it is also Fresh (silent).
  bool Handshaking() const { return phase_ == Phase::kHandshake; }
  const std::string& peer_address() const { return peer_address_; }
  // No TLS byte has been processed yet: the next Drive reads the ClientHello and answers it,
  // the handshake's most expensive step on the server (key exchange and a signature).
  bool Fresh() const { return !session_ && phase_ == Phase::kHandshake; }
  // A whole TLS record has been read (a ClientHello, for a device): the handshake has started,
  // not just a byte or two (worker_admit.cc gives a started one longer before eviction).
  bool RecordRead() const { return session_ && session_->RecordRead(); }
  // Still waiting for a trusted balancer's PROXY header (the bytes are not TLS yet).
  bool AwaitingProxyHeader() const { return await_proxy_header_; }
  // No request under way: the handshake is done and no byte of a request has arrived, on a
  // keep-alive connection between two requests, or on a new one silent for kFirstRequestGrace
  // since its handshake (a client sends its request right after; closing it in between would
  // fail a request no client retries). Safe to close when draining.
  bool Idle(Clock::time_point now) const;
  // A TLS 1.2 client's request comes a round trip after the server's Finished (a slow link's
  // round trip, or a loaded client's scheduling); TLS 1.3's comes with the client's Finished.
  // Short enough that a silent connection does not hold a stop up (closed within a second).
  static constexpr std::chrono::milliseconds kFirstRequestGrace{500};
  // The worker is draining: the response under way (or the next) closes the connection instead
  // of keeping it alive for a request the drain would cut.
  void SetDraining() { draining_ = true; }

 private:
  enum class Phase { kHandshake, kReading, kAwaiting, kWriting, kLingering, kDone };
  enum class AfterWrite { kClose, kNextRequest, kKeepReading };

  // Before the TLS session (connection_proxy.cc): wait for more bytes, start the session, or
  // the connection was refused (logged, phase_ kDone).
  enum class FirstBytes { kWait, kStart, kClosed };
  FirstBytes ScreenOpening();
  FirstBytes TakeProxyHeader(std::span<const uint8_t> seen);
  void RefuseProxy(std::string_view reason);
  bool PeerHungUp() const;
  bool Start(Env& env);
  bool DriveHandshake(Env& env);
  bool DriveReading(Env& env);
  bool DriveWriting();
  // connection_linger.cc: after the answer to a request left unread, instead of closing at once.
  void StartLinger();
  bool DriveLingering();
  void Respond(http::Response response);
  bool StageSecret(base::SecretBuffer& body);
  void RecordHandshakeFailure(Env& env);
  // A session whose handshake completed with a client certificate (bootstrap or operational).
  bool Authenticated() const;

  base::UniqueFd fd_;
  uint64_t id_;
  std::string peer_address_;  // the PROXY header's source once read
  const ServeConfig& config_;
  std::shared_ptr<tls::ServerTls> tls_;  // outlives session_, which points into it
  std::unique_ptr<tls::Session> session_;
  http::RequestParser parser_;
  Phase phase_ = Phase::kHandshake;
  AfterWrite after_write_ = AfterWrite::kClose;
  std::string out_;
  // A response with key material (serverkeygen): head and body copied into undumped pages,
  // written from there instead of out_, and zeroed as soon as it is sent or the write fails.
  std::optional<base::SecretBuffer> secret_out_;
  size_t out_offset_ = 0;
  int requests_ = 0;
  bool keep_alive_requested_ = false;  // of the request being answered
  bool linger_ = false;                // the answer refuses a request not read to its end
  bool linger_shut_ = false;           // kLingering: the write side is shut
  LingerDrain linger_drain_;           // kLingering: reads and discards, counts (linger.h)
  bool await_proxy_header_;            // from a --proxy-protocol-from peer, not read yet
  Clock::time_point deadline_;
  Clock::time_point handshake_done_;  // when the handshake completed (kFirstRequestGrace)
  bool draining_ = false;             // SetDraining
};

}  // namespace provisiond
