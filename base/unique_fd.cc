// unique_fd.cc — the one place in the program that closes a file descriptor.
#include "base/unique_fd.h"

#include <unistd.h>

namespace base {

void UniqueFd::reset(int fd) {
  const int old = fd_;
  fd_ = fd;
  if (old >= 0 && old != fd) ::close(old);
}

bool UniqueFd::Close() {
  const int fd = release();
  return fd < 0 || ::close(fd) == 0;
}

}  // namespace base
