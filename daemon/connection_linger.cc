// connection_linger.cc — the lingering close after a refused, unread request (connection.h,
// kLingering): the answer stays readable for a client that is still sending, within fixed bounds
// (the discard and its bounds are linger.h's, shared with the side listeners).
#include <sys/socket.h>

#include <algorithm>

#include "daemon/connection.h"
#include "daemon/linger.h"

namespace provisiond {

void Connection::StartLinger() {
  phase_ = Phase::kLingering;
  linger_shut_ = false;
  linger_drain_ = LingerDrain();
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
  if (linger_drain_.Read(fd_.get())) return false;  // nothing more for now: the deadline runs
  phase_ = Phase::kDone;
  return false;
}

}  // namespace provisiond
