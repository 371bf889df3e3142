// enrollment.cc — the per-enrollment state machine (see the diagram in enrollment.h).
#include "device-sim/enrollment.h"
#include "device-sim/rollover.h"

#include "device-sim/csr_builder.h"

#include <array>
#include <cstdio>

#include "device-sim/credentials.h"
#include "device-sim/keygen_reply.h"
#include "device-sim/retry.h"

namespace devsim {
namespace {

std::string Seconds(Clock::duration d) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1fs", std::chrono::duration<double>(d).count());
  return text;
}

}  // namespace

Enrollment::Enrollment(const EnrollEnv& env, Exchange exchange)
    : env_(env), exchange_(std::move(exchange)) {}

void Enrollment::Start(Clock::time_point now) {
  Connect(now, Request::kCacerts);
  Drive(now);
}

void Enrollment::OnReady(uint32_t /*events*/) { Drive(Clock::now()); }

void Enrollment::OnTimer(Clock::time_point now) {
  if (state_ == State::kDone || now < deadline_) return;
  if (state_ == State::kBackoff) {
    Connect(now, Request::kCacerts);
    Drive(now);
    return;
  }
  if (RetryConnection(now)) return;
  Finish(Outcome::Error("timeout: " + StepName() + " after " + Seconds(env_.step_timeout)));
}

void Enrollment::Connect(Clock::time_point now, Request first) {
  conn_.reset();  // closes any previous socket, which also leaves the epoll set
  auto conn = TlsClient::Start(*env_.server, *env_.tls, env_.trust, exchange_.identity, env_.rng,
                               env_.server_cert_cache);
  if (!conn) {
    state_ = State::kConnecting;
    if (RetryConnection(now)) return;
    return Finish(Outcome::Error(conn.error().detail));
  }
  if (auto watched = env_.poller->Watch((*conn)->fd(), this); !watched) {
    return Finish(Outcome::Error(watched.error().detail));
  }
  conn_ = std::move(*conn);
  request_ = first;
  reused_ = false;
  state_ = State::kConnecting;
  deadline_ = now + env_.step_timeout;
}

void Enrollment::Drive(Clock::time_point now) {
  bool progress = true;
  while (progress) {
    switch (state_) {
      case State::kConnecting:
        progress = StepConnect(now);
        break;
      case State::kHandshaking:
        progress = StepHandshake(now);
        break;
      case State::kWriting:
        progress = StepWrite(now);
        break;
      case State::kReading:
        progress = StepRead(now);
        break;
      case State::kBackoff:
      case State::kDone:
        return;
    }
  }
}

bool Enrollment::StepConnect(Clock::time_point now) {
  const Io io = conn_->FinishConnect();
  if (io != Io::kDone) return Blocked(io, now);
  state_ = State::kHandshaking;
  deadline_ = now + env_.step_timeout;
  return true;
}

bool Enrollment::StepHandshake(Clock::time_point now) {
  const Io io = conn_->Handshake();
  if (io != Io::kDone) return Blocked(io, now);
  BeginRequest(request_, now);
  return true;
}

// Writes the rest of out_; once all of it is out, reading the answer starts.
bool Enrollment::StepWrite(Clock::time_point now) {
  while (out_offset_ < out_.size()) {
    const IoResult r = conn_->Write(std::string_view(out_).substr(out_offset_));
    if (r.io != Io::kDone) return Blocked(r.io, now);
    out_offset_ += r.bytes;
  }
  state_ = State::kReading;
  return true;
}

bool Enrollment::StepRead(Clock::time_point now) {
  std::array<char, 4096> buf;
  while (!parser_->complete()) {
    const IoResult r = conn_->Read(buf);
    if (r.io != Io::kDone) return Blocked(r.io, now);
    auto fed = r.bytes == 0 ? parser_->FinishAtEof()
                            : parser_->Feed(std::string_view(buf.data(), r.bytes));
    if (!fed) {
      if (r.bytes == 0 && RetryOnFreshConnection(now)) return true;
      if (r.bytes == 0 && !parser_->started() && RetryConnection(now)) return false;
      Finish(Outcome::Error(StepName() + ": http: " + fed.error().detail));
      return false;
    }
  }
  OnResponse(now);
  return state_ != State::kDone && state_ != State::kBackoff;
}

// Waiting is not progress; a failure finishes (or retries) and is not progress either, unless a
// retry opened a fresh connection to drive.
bool Enrollment::Blocked(Io io, Clock::time_point now) {
  if (io != Io::kFailed) return false;
  const State before = state_;
  FailIo(now);
  return state_ != State::kDone && before != state_;
}

void Enrollment::FailIo(Clock::time_point now) {
  if (state_ == State::kConnecting) {
    if (RetryConnection(now)) return;
    return Finish(Outcome::Error(conn_->error()));
  }
  int alert = conn_->alert();
  std::string error = conn_->error();
  if (alert == 0 && state_ == State::kWriting) {
    // The server may have sent its alert and reset the connection before our write; the alert
    // can still be waiting in the receive queue.
    std::array<char, 512> buf;
    if (conn_->Read(buf).io == Io::kFailed && conn_->alert() != 0) alert = conn_->alert();
  }
  if (alert != 0) return Finish(Outcome::Alert(alert, StepName()));
  if (RetryOnFreshConnection(now)) return;
  if (RetryConnection(now)) return;
  Finish(Outcome::Error("tls: " + StepName() + ": " + error));
}

// A POST on a kept-alive connection that died before any byte of the answer was not processed
// (the server closed an idle connection as we wrote): one retry on a fresh connection is safe.
bool Enrollment::RetryOnFreshConnection(Clock::time_point now) {
  if (request_ != Request::kEnroll || !reused_ || retried_reused_ || parser_ == nullptr ||
      parser_->started()) {
    return false;
  }
  retried_reused_ = true;
  Connect(now, Request::kEnroll);
  return state_ == State::kConnecting;
}

void Enrollment::OnResponse(Clock::time_point now) {
  const HttpResponse& response = parser_->response();
  if (IsRetryableStatus(response.status)) return ScheduleRetry(response, now);
  if (request_ == Request::kEnroll) return OnEnrollResponse(response);
  if (response.status != 200) {
    return Finish(Outcome::Http(response.status, StepName(), FirstLine(response.body)));
  }
  auto certs = CertsFromResponse(response, "cacerts");
  if (!certs) return Finish(Outcome::Error(certs.error().detail));
  if (env_.follow_rollover != nullptr) {
    if (auto learned = FollowRollover(*certs, env_.trust, *env_.follow_rollover); !learned) {
      return Finish(Outcome::Error(learned.error().detail));
    }
  }
  if (response.keep_alive) {
    reused_ = true;
    return BeginRequest(Request::kEnroll, now);
  }
  conn_->CloseNotify();
  Connect(now, Request::kEnroll);
}

void Enrollment::OnEnrollResponse(const HttpResponse& response) {
  const std::string step = StepName();
  conn_->CloseNotify();
  if (response.status != 200) {
    return Finish(Outcome::Http(response.status, step, FirstLine(response.body)));
  }
  std::unique_ptr<ca::PrivateKey> server_key;
  ca::Result<std::vector<base::Bytes>> certs;
  if (exchange_.op == EstOperation::kServerKeygen) {
    // The certificate must certify the key that came with it (not the CSR's).
    auto reply = ParseKeygenReply(response, step, env_.rng);
    if (!reply) return Finish(Outcome::Error(reply.error().detail));
    exchange_.public_key = std::move(reply->public_key);
    server_key = std::move(reply->key);
    certs = std::move(reply->certs);
  } else {
    certs = CertsFromResponse(response, step);
  }
  if (!certs) return Finish(Outcome::Error(certs.error().detail));
  auto leaf = CheckIssued(*certs, exchange_.public_key, exchange_.device_id, env_.trust);
  if (!leaf) return Finish(Outcome::Error(leaf.error().detail));
  leaf_ = std::move(*leaf);
  server_key_ = std::move(server_key);
  if (env_.timeline != nullptr) env_.timeline->Note(Timeline::Event::kIssued, Clock::now());
  Finish(Outcome::Issued());
}

void Enrollment::ScheduleRetry(const HttpResponse& response, Clock::time_point now) {
  conn_.reset();
  if (retries_ >= env_.max_retries) {
    return Finish(Outcome::Http(
        response.status, StepName(),
        FirstLine(response.body) + " (gave up after " + std::to_string(retries_) + " retries)"));
  }
  ++retries_;
  std::optional<double> retry_after;
  if (auto header = response.Header("Retry-After")) retry_after = ParseRetryAfter(*header);
  if (env_.timeline != nullptr) {
    env_.timeline->Note(Timeline::Event::kRetryStatus, now);
    if (retry_after) env_.timeline->NoteRetryAfter(static_cast<int>(*retry_after));
  }
  const double u = std::uniform_real_distribution<double>(0.0, 1.0)(*env_.jitter);
  BackOff(BackoffSeconds(retries_, retry_after, u), now);
}

// --retry-connections: a connect or handshake that failed without a TLS alert (refused, reset,
// closed, timed out), or a request that died before any answer byte, is tried again on a fresh
// connection after exponential back-off with equal jitter (no Retry-After to go by: a server
// shedding load at accept time cannot send one).
bool Enrollment::RetryConnection(Clock::time_point now) {
  const bool before_request = state_ == State::kConnecting || state_ == State::kHandshaking;
  // A simpleenroll POST that died before any answer byte is retried too, with the same key and
  // CSR: the server answers such a retry with the certificate it may already have issued
  // (same-key retry). A simplereenroll is not: the server may have issued, and a retry would be
  // a second renewal with another certificate.
  const bool unanswered = parser_ != nullptr && !parser_->started() &&
                          (request_ == Request::kCacerts || exchange_.op == EstOperation::kEnroll);
  if (!env_.retry_connections || retries_ >= env_.max_retries ||
      (!before_request && request_ != Request::kCacerts && !unanswered)) {
    return false;
  }
  if (conn_ != nullptr && conn_->alert() != 0) return false;  // a refusal, not an overload
  ++retries_;
  if (env_.timeline != nullptr) env_.timeline->Note(Timeline::Event::kConnectRetry, now);
  conn_.reset();
  parser_.reset();
  const double u = std::uniform_real_distribution<double>(0.0, 1.0)(*env_.jitter);
  BackOff(BackoffSeconds(retries_, std::nullopt, u), now);
  return true;
}

void Enrollment::BackOff(double seconds, Clock::time_point now) {
  state_ = State::kBackoff;
  deadline_ =
      now + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

void Enrollment::BeginRequest(Request request, Clock::time_point now) {
  request_ = request;
  if (request == Request::kEnroll && env_.tls->channel_binding && exchange_.csr_key != nullptr) {
    // The CSR is bound to THIS connection, so it is built once the handshake is done.
    if (auto binding = conn_->ChannelBinding()) {
      auto csr = BuildCsrWithChallenge(exchange_.device_id, *exchange_.csr_key, env_.rng, *binding);
      if (csr) exchange_.csr_der = std::move(*csr);
    }
  }
  out_ = request == Request::kCacerts
             ? CacertsRequest(*env_.target)
             : EnrollRequest(*env_.target, exchange_.op, exchange_.csr_der);
  out_offset_ = 0;
  parser_ = std::make_unique<HttpResponseParser>();
  state_ = State::kWriting;
  deadline_ = now + env_.step_timeout;
}

void Enrollment::Finish(Outcome outcome) {
  outcome_ = std::move(outcome);
  state_ = State::kDone;
  conn_.reset();
  parser_.reset();
  out_.clear();
  out_.shrink_to_fit();
}

std::string Enrollment::StepName() const {
  switch (state_) {
    case State::kConnecting:
      return "connect";
    case State::kHandshaking:
      return "handshake";
    default:
      return request_ == Request::kCacerts ? "cacerts" : OperationName(exchange_.op);
  }
}

}  // namespace devsim
