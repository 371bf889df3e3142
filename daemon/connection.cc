// connection.cc — the per-connection state machine (see connection.h).
#include "daemon/connection.h"

#include <unistd.h>

#include <ctime>

#include "ca/encoding.h"
#include "daemon/log.h"

namespace provisiond {

namespace {
http::ParseLimits ToParseLimits(const Limits& l) {
  return http::ParseLimits{.max_header_bytes = l.max_header_bytes,
                           .max_headers = 64,
                           .max_body_bytes = l.max_body_bytes};
}
}  // namespace

Connection::Connection(int fd, std::string peer_address, const ServeConfig& config)
    : fd_(fd),
      peer_address_(std::move(peer_address)),
      config_(config),
      parser_(ToParseLimits(config.limits)),
      deadline_(Clock::now() + config.limits.handshake_timeout) {}

Connection::~Connection() { ::close(fd_); }

bool Connection::Drive(Env& env) {
  if (!session_ && !Start(env)) return false;
  for (;;) {
    switch (phase_) {
      case Phase::kHandshake:
        if (!DriveHandshake(env)) return phase_ != Phase::kDone;
        break;
      case Phase::kReading:
        if (!DriveReading(env)) return phase_ != Phase::kDone;
        break;
      case Phase::kWriting:
        if (!DriveWriting()) return phase_ != Phase::kDone;
        break;
      case Phase::kDone:
        return false;
    }
  }
}

bool Connection::Start(Env& env) {
  auto session = tls::Session::Create(env.tls, fd_, config_.identity, &env.status_check);
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
      deadline_ = Clock::now() + config_.limits.request_timeout;
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

void Connection::RecordHandshakeFailure(Env& env) {
  const auto& f = session_->failure();
  const auto& presented = session_->presented();
  const std::string alert = f.alert ? std::string(tls::AlertName(f.alert)) + "(" +
                                          std::to_string(f.alert) + ")"
                                    : "none";
  std::string subject = presented ? presented->subject : "";
  // Peers that connect and leave without a word (port scans, health checks) are not attempts.
  if (f.alert == 0 && !presented) {
    Log(Priority::kInfo, "handshake_aborted", {{"peer", peer_address_}, {"reason", f.reason}});
    return;
  }
  Log(Priority::kWarning, "handshake_failed",
      {{"peer", peer_address_}, {"subject", subject}, {"reason", f.reason}, {"alert", alert}});
  db::EventRecord event{
      .time = ca::Iso8601(static_cast<ca::UnixTime>(std::time(nullptr))),
      .peer = peer_address_,
      .presented_fingerprint = presented ? presented->fingerprint : "",
      .presented_subject = subject,
      .device_id = "",
      .endpoint = "tls",
      .outcome = "handshake_failed",
      .http_status = 0,
      .reason = f.reason + "; alert " + alert,
      .serial_hex = "",
  };
  if (auto r = env.store.RecordEvent(event); !r) {
    Log(Priority::kErr, "event_not_recorded", {{"detail", r.error().detail}});
  }
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
      Log(Priority::kWarning, "bad_request",
          {{"peer", peer_address_}, {"status", std::to_string(parser_.error_status())},
           {"reason", parser_.error_reason()}});
      Respond(http::TextResponse(parser_.error_status(), parser_.error_reason()));
      after_write_ = AfterWrite::kClose;
      return true;
    case http::RequestParser::State::kComplete: {
      ++requests_;
      const auto& request = parser_.request();
      http::Response response = env.service.Handle(request, session_->peer(), peer_address_);
      const bool keep = request.keep_alive && response.status < 400 &&
                        requests_ < config_.limits.max_requests_per_connection;
      after_write_ = keep ? AfterWrite::kNextRequest : AfterWrite::kClose;
      Respond(std::move(response));
      return true;
    }
  }
  return false;
}

void Connection::Respond(http::Response response) {
  response.close = after_write_ == AfterWrite::kClose;
  out_ = http::Serialize(response);
  out_offset_ = 0;
  phase_ = Phase::kWriting;
  deadline_ = Clock::now() + config_.limits.request_timeout;
}

bool Connection::DriveWriting() {
  size_t written = 0;
  auto status = session_->Write(std::string_view(out_).substr(out_offset_), &written);
  out_offset_ += written;
  if (status == tls::Session::Status::kWantRead || status == tls::Session::Status::kWantWrite) {
    return false;
  }
  if (status != tls::Session::Status::kDone) {
    phase_ = Phase::kDone;
    return false;
  }
  out_.clear();
  switch (after_write_) {
    case AfterWrite::kClose:
      session_->SendCloseNotify();
      phase_ = Phase::kDone;
      return false;
    case AfterWrite::kKeepReading:
      phase_ = Phase::kReading;
      return true;
    case AfterWrite::kNextRequest:
      parser_.NextRequest();
      phase_ = Phase::kReading;
      deadline_ = Clock::now() + (parser_.InProgress() ? config_.limits.request_timeout
                                                       : config_.limits.idle_timeout);
      return true;
  }
  return false;
}

bool Connection::CheckDeadline(Clock::time_point now) {
  if (now < deadline_) return true;
  const char* what = phase_ == Phase::kHandshake ? "handshake"
                     : phase_ == Phase::kWriting ? "write"
                     : parser_.InProgress()      ? "request"
                                                 : "idle";
  Log(Priority::kInfo, "timeout", {{"peer", peer_address_}, {"phase", what}});
  return false;
}

}  // namespace provisiond
