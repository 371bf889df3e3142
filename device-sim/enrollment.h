// enrollment.h — one device's EST exchange as a non-blocking state machine, driven by its
// worker's event loop (OnReady on socket readiness, OnTimer from the worker's sweep):
//
//   kConnecting ─► kHandshaking ─► kWriting(GET cacerts) ─► kReading ─┐
//        ▲                                                            │ 200
//        │            ┌── keep-alive: same connection ◄───────────────┤
//        │            ▼                                               │ server closed: reconnect
//        │     kWriting(POST simple[re]enroll) ─► kReading ─► 200 ─► verify ─► kDone (issued)
//        │                                                  └─ other status ─► kDone (http)
//        └── kBackoff ◄── 503/429, at most max_retries times, same key and CSR; with
//                         retry_connections also a connect/handshake/request that failed unanswered
//
// Every step (connect, handshake, each request) has its own deadline; passing it ends the
// enrollment with "timeout: <step> ...". A fatal alert ends it at whatever step it arrives: in
// TLS 1.3 the client's handshake completes before the server has judged the client certificate,
// so a rejection shows up on the first read of GET cacerts. A POST on a kept-alive connection
// that dies before any response byte is retried once on a fresh connection (idle close race).
// Storing the result is the caller's job (it knows which keys to keep).
#pragma once

#include <chrono>
#include <memory>
#include <random>
#include <string>

#include "base/types.h"
#include "ca/keys.h"
#include "ca/rng.h"
#include "device-sim/est_messages.h"
#include "device-sim/http_response.h"
#include "device-sim/outcome.h"
#include "device-sim/poller.h"
#include "device-sim/timeline.h"
#include "device-sim/tls_client.h"

namespace devsim {

using Clock = std::chrono::steady_clock;

// A worker's shared pieces, borrowed by each of its enrollments.
struct EnrollEnv {
  const ServerAddress* server;
  const TlsSettings* tls;
  const EstTarget* target;
  mbedtls_x509_crt* trust;
  ca::Rng rng;
  Poller* poller;
  std::minstd_rand* jitter;
  Clock::duration step_timeout;
  int max_retries;
  ServerCertCache* server_cert_cache = nullptr;  // nullptr: mbedTLS verifies every handshake
  bool retry_connections = false;  // --retry-connections
  Timeline* timeline = nullptr;    // per-second counts of the run; nullptr: not counted
  // --follow-rollover FILE: roots learned from cacerts go to `trust` and FILE (rollover.h).
  const std::string* follow_rollover = nullptr;
};

// What one enrollment sends. identity is borrowed and must outlive the Enrollment.
struct Exchange {
  EstOperation op = EstOperation::kEnroll;
  std::string device_id;
  ClientIdentity identity;
  base::Bytes csr_der;
  base::Bytes public_key;  // SPKI DER of the CSR's key: the issued certificate must carry it
  ca::PrivateKey* csr_key = nullptr;  // to sign the CSR again with a channel binding; borrowed
};

class Enrollment : public EventTarget {
 public:
  Enrollment(const EnrollEnv& env, Exchange exchange);
  Enrollment(const Enrollment&) = delete;
  Enrollment& operator=(const Enrollment&) = delete;

  // Opens the first connection. May finish at once (e.g. connect refused synchronously).
  void Start(Clock::time_point now);
  void OnReady(uint32_t events) override;
  // Ends a step whose deadline passed, or reconnects when a back-off is over.
  void OnTimer(Clock::time_point now);

  bool done() const { return state_ == State::kDone; }
  Clock::time_point deadline() const { return deadline_; }
  // Valid once done().
  const Outcome& outcome() const { return outcome_; }
  // The issued certificate's DER when outcome().kind == kIssued.
  const base::Bytes& leaf() const { return leaf_; }
  // serverkeygen: the key the server generated (the leaf certifies it), once issued; else null.
  const ca::PrivateKey* server_key() const { return server_key_.get(); }
  int retries() const { return retries_; }
  const Exchange& exchange() const { return exchange_; }

 private:
  enum class State { kConnecting, kHandshaking, kWriting, kReading, kBackoff, kDone };
  enum class Request { kCacerts, kEnroll };

  void Connect(Clock::time_point now, Request first);
  void Drive(Clock::time_point now);
  bool StepConnect(Clock::time_point now);
  bool StepHandshake(Clock::time_point now);
  bool StepWrite(Clock::time_point now);
  bool StepRead(Clock::time_point now);
  bool Blocked(Io io, Clock::time_point now);
  void FailIo(Clock::time_point now);
  bool RetryOnFreshConnection(Clock::time_point now);
  void OnResponse(Clock::time_point now);
  void OnEnrollResponse(const HttpResponse& response);
  void ScheduleRetry(const HttpResponse& response, Clock::time_point now);
  bool RetryConnection(Clock::time_point now);
  void BackOff(double seconds, Clock::time_point now);
  void BeginRequest(Request request, Clock::time_point now);
  void Finish(Outcome outcome);
  std::string StepName() const;

  const EnrollEnv& env_;
  Exchange exchange_;
  State state_ = State::kConnecting;
  Request request_ = Request::kCacerts;  // the request being (or to be) sent
  Clock::time_point deadline_{};
  std::unique_ptr<TlsClient> conn_;
  std::unique_ptr<HttpResponseParser> parser_;
  std::string out_;
  size_t out_offset_ = 0;
  bool reused_ = false;          // the POST goes on the connection that served cacerts
  bool retried_reused_ = false;  // the one fresh-connection retry of such a POST was used
  int retries_ = 0;              // 503/429 (and connection) retries so far
  Outcome outcome_;
  base::Bytes leaf_;
  std::unique_ptr<ca::PrivateKey> server_key_;
};

}  // namespace devsim
