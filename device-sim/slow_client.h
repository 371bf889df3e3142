// slow_client.h — slowloris connections (--slow K): each opens a connection and trickles one byte
// per interval for the whole run, either a TLS ClientHello on the raw socket ("hello") or, after
// a complete handshake, an HTTP request header ("header"). Each records when the server closed
// it and is reopened a second later, so K stay open while the fleet enrolls.
#pragma once

#include <memory>
#include <string>

#include "base/error.h"
#include "device-sim/enrollment.h"
#include "device-sim/poller.h"
#include "device-sim/socket_util.h"
#include "device-sim/tally.h"
#include "device-sim/tls_client.h"

namespace devsim {

// A worker's shared pieces for its slow connections, borrowed.
struct SlowEnv {
  const ServerAddress* server;
  const TlsSettings* tls;
  mbedtls_x509_crt* trust;
  ClientIdentity identity;  // header mode must pass the handshake; cert == nullptr: it cannot
  ca::Rng rng;
  Poller* poller;
  std::string hello;   // the ClientHello record trickled in hello mode
  std::string header;  // request bytes trickled in header mode, followed by 'a' forever
  Clock::duration interval;
  ServerCertCache* server_cert_cache;  // header mode: the chain is verified once a minute
};

// The first flight this client sends: a ClientHello record. kInternal on mbedTLS failure.
base::Result<std::string> CaptureClientHello(const TlsSettings& tls, mbedtls_x509_crt* trust,
                                             ca::Rng rng);

class SlowConnection : public EventTarget {
 public:
  SlowConnection(const SlowEnv& env, SlowMode mode, SlowTally& tally);
  SlowConnection(const SlowConnection&) = delete;
  SlowConnection& operator=(const SlowConnection&) = delete;

  void Open(Clock::time_point now);
  void OnReady(uint32_t events) override;
  // Sends the next byte when due; reopens a closed connection after a second if `reopen`.
  void OnTimer(Clock::time_point now, bool reopen);
  // The run is over: counts the connection as still open (if it is) and closes it.
  void Shutdown();
  // Open and trickling (hello: connected; header: the handshake is done).
  bool Trickling() const { return state_ == State::kTrickling; }

 private:
  enum class State { kClosed, kConnecting, kHandshaking, kTrickling };

  void Advance(Clock::time_point now);
  void DrainRaw(Clock::time_point now);
  void DrainTls(Clock::time_point now);
  void SendByte(Clock::time_point now);
  void Closed(Clock::time_point now, bool by_server, const std::string& why);
  int fd() const;

  const SlowEnv& env_;
  SlowMode mode_;
  SlowTally& tally_;
  State state_ = State::kClosed;
  base::UniqueFd raw_;              // hello mode
  std::unique_ptr<TlsClient> tls_;  // header mode
  Clock::time_point opened_at_{};
  Clock::time_point next_at_{};  // next byte, or the reopen time when closed
  size_t sent_ = 0;
};

}  // namespace devsim
