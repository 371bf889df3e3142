// connection.cc — the per-connection state machine (see connection.h).
#include "daemon/connection.h"

#include <sys/socket.h>
#include <unistd.h>

#include <ctime>
#include <random>

#include "ca/encoding.h"
#include "daemon/events.h"
#include "daemon/flood_budget.h"
#include "daemon/log.h"
#include "daemon/metrics.h"

namespace provisiond {

namespace {

// now + timeout + up to a quarter more, at random. Clients that a timeout cuts off together
// (a slowloris opening its connections at once, a fleet stalled by a network blip) would
// otherwise come back together, each burst of handshakes queueing the devices behind it.
Clock::time_point JitteredDeadline(std::chrono::milliseconds timeout) {
  thread_local std::minstd_rand engine{std::random_device{}()};
  std::uniform_int_distribution<int64_t> extra(0, timeout.count() / 4);
  return Clock::now() + timeout + std::chrono::milliseconds(extra(engine));
}

http::ParseLimits ToParseLimits(const Limits& l) {
  return http::ParseLimits{.max_header_bytes = l.max_header_bytes,
                           .max_headers = 64,
                           .max_body_bytes = l.max_body_bytes};
}
}  // namespace

Connection::Connection(base::UniqueFd fd, uint64_t id, std::string peer_address,
                       const ServeConfig& config, bool proxy_header_required)
    : fd_(std::move(fd)),
      id_(id),
      peer_address_(std::move(peer_address)),
      config_(config),
      parser_(ToParseLimits(config.limits)),
      await_proxy_header_(proxy_header_required),
      deadline_(JitteredDeadline(config.limits.handshake_timeout)) {}

Connection::~Connection() {
  // The session's last flush (an alert or close_notify still queued) needs the socket: end it
  // before fd_ closes (after this body) and its number can be reused by another thread's accept.
  session_.reset();
}

bool Connection::Drive(Env& env) {
  if (!session_) {
    switch (ScreenOpening()) {
      case FirstBytes::kWait:
        return true;  // the deadline still runs
      case FirstBytes::kClosed:
        return false;
      case FirstBytes::kStart:
        if (!Start(env)) return false;
        break;
    }
  }
  for (;;) {
    switch (phase_) {
      case Phase::kHandshake:
        if (!DriveHandshake(env)) return phase_ != Phase::kDone;
        break;
      case Phase::kReading:
        if (!DriveReading(env)) return phase_ != Phase::kDone;
        break;
      case Phase::kAwaiting:
        return true;  // the reply comes through Deliver
      case Phase::kWriting:
        if (!DriveWriting()) return phase_ != Phase::kDone;
        break;
      case Phase::kLingering:
        if (!DriveLingering()) return phase_ != Phase::kDone;
        break;
      case Phase::kDone:
        return false;
    }
  }
}

bool Connection::Start(Env& env) {
  tls_ = env.tls;
  auto session = tls::Session::Create(*tls_, fd_.get(), config_.identity, &env.status_check);
  if (!session) {
    Log(Priority::kErr, "tls_setup_failed", {{"peer", peer_address_},
                                              {"detail", session.error().detail}});
    phase_ = Phase::kDone;
    return false;
  }
  session_ = std::move(*session);
  return true;
}

// Each Drive* returns true when it changed phase and the loop should continue, false when it
// must wait for the socket (or the connection is done: phase_ == kDone).
bool Connection::DriveHandshake(Env& env) {
  switch (session_->Handshake()) {
    case tls::Session::Status::kDone:
      phase_ = Phase::kReading;
      handshake_done_ = Clock::now();
      deadline_ = JitteredDeadline(config_.limits.request_timeout);
      return true;
    case tls::Session::Status::kWantRead:
    case tls::Session::Status::kWantWrite:
      return false;
    default:
      RecordHandshakeFailure(env);
      phase_ = Phase::kDone;
      return false;
  }
}

// The peer has not authenticated (even a trusted chain's leaf was only presented, not proven):
// its strings are cut to kMaxPeerText and its lines and rows come out of UnauthenticatedBudget.
void Connection::RecordHandshakeFailure(Env& env) {
  const auto& f = session_->failure();
  const auto& presented = session_->presented();
  const std::string alert = f.alert ? std::string(tls::AlertName(f.alert)) + "(" +
                                          std::to_string(f.alert) + ")"
                                    : "none";
  const std::string subject = BoundedPeerText(presented ? presented->subject : "");
  const std::string reason = BoundedPeerText(f.reason);
  // Peers that connect and leave without a word (port scans, health checks) are not attempts.
  if (f.alert == 0 && !presented) {
    if (UnauthenticatedBudget().Admit(/*row=*/false)) {
      Log(Priority::kInfo, "handshake_aborted", {{"peer", peer_address_}, {"reason", reason}});
    }
    return;
  }
  GlobalMetrics().handshake_failures.Inc(f.alert ? tls::AlertName(f.alert) : "none");
  if (!UnauthenticatedBudget().Admit(/*row=*/true)) return;
  Log(Priority::kWarning, "handshake_failed",
      {{"peer", peer_address_}, {"subject", subject}, {"reason", reason}, {"alert", alert}});
  db::EventRecord event{
      .time = ca::Iso8601(static_cast<base::UnixTime>(std::time(nullptr))),
      .peer = peer_address_,
      .presented_fingerprint = presented ? presented->fingerprint : "",
      .presented_subject = subject,
      .device_id = "",
      .endpoint = "tls",
      .outcome = "handshake_failed",
      .http_status = 0,
      .reason = reason + "; alert " + alert,
      .serial_hex = "",
  };
  RecordEventAsync(env.writer, std::move(event));
}

bool Connection::Authenticated() const {
  return session_ && phase_ != Phase::kHandshake &&
         session_->peer().kind != AuthKind::kNone;
}

bool Connection::Idle(Clock::time_point now) const {
  if (phase_ != Phase::kReading || parser_.InProgress()) return false;
  if (requests_ == 0 && now - handshake_done_ < kFirstRequestGrace) return false;
  // A request's first record may be in part in the session (bytes driven, no plaintext yet).
  if (session_->InputPending()) return false;
  // Bytes on the socket not driven yet are the start of a request.
  uint8_t byte = 0;
  return ::recv(fd_.get(), &byte, 1, MSG_PEEK | MSG_DONTWAIT) <= 0;
}

bool Connection::DriveReading(Env& env) {
  if (parser_.state() == http::RequestParser::State::kNeedMore) {
    std::string data;
    switch (session_->Read(data, 16 * 1024)) {
      case tls::Session::Status::kDone:
        parser_.Feed(data);
        break;
      case tls::Session::Status::kWantRead:
      case tls::Session::Status::kWantWrite:
        return false;
      default:  // closed by the peer or a TLS error: nothing more to answer
        phase_ = Phase::kDone;
        return false;
    }
    if (parser_.TakeContinueRequest()) {
      out_ = "HTTP/1.1 100 Continue\r\n\r\n";
      out_offset_ = 0;
      after_write_ = AfterWrite::kKeepReading;
      phase_ = Phase::kWriting;
      return true;
    }
  }
  switch (parser_.state()) {
    case http::RequestParser::State::kNeedMore:
      return true;  // read again until the socket would block
    case http::RequestParser::State::kError:
      if (Authenticated() || UnauthenticatedBudget().Admit(/*row=*/false)) {
        Log(Priority::kWarning, "bad_request",
            {{"peer", peer_address_}, {"status", std::to_string(parser_.error_status())},
             {"reason", parser_.error_reason()}});
      }
      keep_alive_requested_ = false;
      linger_ = true;  // the rest of the request may still be on its way
      Respond(http::TextResponse(parser_.error_status(), parser_.error_reason()));
      return true;
    case http::RequestParser::State::kComplete: {
      ++requests_;
      const auto& request = parser_.request();
      keep_alive_requested_ = request.keep_alive;
      auto response = env.service.Handle(request, session_->peer(), peer_address_,
                                         env.make_reply(fd_.get(), id_));
      if (!response) {
        phase_ = Phase::kAwaiting;
        deadline_ = Clock::now() + config_.limits.request_timeout;
        return false;
      }
      Respond(std::move(*response));
      return true;
    }
  }
  return false;
}

bool Connection::Deliver(http::Response response, Env& env) {
  if (phase_ != Phase::kAwaiting) return phase_ != Phase::kDone;
  Respond(std::move(response));
  return Drive(env);
}

void Connection::Respond(http::Response response) {
  const bool keep = !draining_ && keep_alive_requested_ && response.status < 400 &&
                    requests_ < config_.limits.max_requests_per_connection;
  after_write_ = keep ? AfterWrite::kNextRequest : AfterWrite::kClose;
  response.close = after_write_ == AfterWrite::kClose;
  out_ = http::Serialize(response);
  secret_out_.reset();
  if (response.secret_body && !StageSecret(*response.secret_body)) {
    // No page for the copy: the key is dropped (zeroed) and the device told, once.
    auto failed = http::TextResponse(500, "internal error");
    failed.close = true;
    after_write_ = AfterWrite::kClose;
    out_ = http::Serialize(failed);
  }
  out_offset_ = 0;
  phase_ = Phase::kWriting;
  deadline_ = Clock::now() + config_.limits.request_timeout;
}

// Copies the serialised head (out_) and the secret body into one undumped buffer, then zeroes
// the body; the connection writes from secret_out_. False if no pages could be mapped.
bool Connection::StageSecret(base::SecretBuffer& body) {
  auto whole = base::SecretBuffer::Create(out_.size() + body.size());
  const bool ok = whole && whole->Append(out_) && whole->Append(body.data(), body.size());
  body.Wipe();
  if (!ok) return false;
  secret_out_ = std::move(*whole);
  out_.clear();
  return true;
}

bool Connection::DriveWriting() {
  size_t written = 0;
  const std::string_view all = secret_out_ ? secret_out_->view() : std::string_view(out_);
  auto status = session_->Write(all.substr(out_offset_), &written);
  out_offset_ += written;
  if (status == tls::Session::Status::kWantRead || status == tls::Session::Status::kWantWrite) {
    return false;
  }
  secret_out_.reset();  // sent, or never will be: zeroed and unmapped now
  if (status != tls::Session::Status::kDone) {
    phase_ = Phase::kDone;
    return false;
  }
  out_.clear();
  switch (after_write_) {
    case AfterWrite::kClose:
      session_->SendCloseNotify();
      if (linger_) {
        StartLinger();
        return true;
      }
      phase_ = Phase::kDone;
      return false;
    case AfterWrite::kKeepReading:
      phase_ = Phase::kReading;
      return true;
    case AfterWrite::kNextRequest:
      parser_.NextRequest();
      phase_ = Phase::kReading;
      deadline_ = JitteredDeadline(parser_.InProgress() ? config_.limits.request_timeout
                                                        : config_.limits.idle_timeout);
      return true;
  }
  return false;
}

bool Connection::CheckDeadline(Clock::time_point now) {
  if (now < deadline_) return true;
  if (phase_ == Phase::kLingering) return false;  // answered already: its end, not a timeout
  if (await_proxy_header_) {
    RefuseProxy("timeout");
    return false;
  }
  const char* what = phase_ == Phase::kHandshake ? "handshake"
                     : phase_ == Phase::kAwaiting ? "issuance"
                     : phase_ == Phase::kWriting ? "write"
                     : parser_.InProgress()      ? "request"
                                                 : "idle";
  if (Authenticated() || UnauthenticatedBudget().Admit(/*row=*/false)) {
    Log(Priority::kInfo, "timeout", {{"peer", peer_address_}, {"phase", what}});
  }
  return false;
}

}  // namespace provisiond
