// linger.cc — the raw discard of a lingering close (see linger.h).
#include "daemon/linger.h"

#include <sys/socket.h>

#include <cerrno>

namespace provisiond {

bool LingerDrain::Read(int fd) {
  // Raw bytes, never decrypted or parsed: the rest of a request already answered.
  char discard[16 * 1024];
  for (;;) {
    const ssize_t n = ::recv(fd, discard, sizeof discard, MSG_DONTWAIT);
    if (n > 0) {
      discarded_ += static_cast<size_t>(n);
      if (discarded_ > kLingerMaxBytes) return false;  // enough: close, even with input unread
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;  // the deadline runs
    return false;  // EOF (the client read the answer and closed) or an error
  }
}

}  // namespace provisiond
