// connection_linger.cc — the lingering close after a refused, unread request (connection.h,
// kLingering): the answer stays readable for a client that is still sending, within fixed bounds.
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "daemon/connection.h"

namespace provisiond {

void Connection::StartLinger() {
  phase_ = Phase::kLingering;
  linger_shut_ = false;
  lingered_bytes_ = 0;
  deadline_ = Clock::now() + std::min<Clock::duration>(kLingerTime, config_.limits.request_timeout);
}

// Returns like the other Drive* (false: wait for the socket, or done with phase_ == kDone).
bool Connection::DriveLingering() {
  if (!linger_shut_) {
    // The answer and its close_notify leave before the FIN: shut only once nothing is queued.
    switch (session_->FlushQueued()) {
      case tls::Session::Status::kDone:
        break;
      case tls::Session::Status::kWantRead:
      case tls::Session::Status::kWantWrite:
        return false;
      default:  // the client is gone
        phase_ = Phase::kDone;
        return false;
    }
    if (::shutdown(fd_.get(), SHUT_WR) != 0) {
      phase_ = Phase::kDone;
      return false;
    }
    linger_shut_ = true;
  }
  // Raw bytes, never decrypted or parsed: the rest of a request already answered.
  char discard[16 * 1024];
  for (;;) {
    const ssize_t n = ::recv(fd_.get(), discard, sizeof discard, MSG_DONTWAIT);
    if (n > 0) {
      lingered_bytes_ += static_cast<size_t>(n);
      if (lingered_bytes_ > kLingerMaxBytes) break;  // enough: close, even with input unread
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;  // the deadline runs
    break;  // EOF (the client read the answer and closed) or an error
  }
  phase_ = Phase::kDone;
  return false;
}

}  // namespace provisiond
