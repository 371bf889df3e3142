// fd_limit.cc — raising the soft RLIMIT_NOFILE to the hard limit (fd_limit.h).
#include "daemon/fd_limit.h"

#include <sys/resource.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "daemon/log.h"

namespace provisiond {

FdLimit RaiseFdLimit() {
  FdLimit out;
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    out.error = errno;
    return out;
  }
  out.soft = limit.rlim_cur;
  out.hard = limit.rlim_max;
  if (limit.rlim_cur >= limit.rlim_max) return out;
  limit.rlim_cur = limit.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) {
    out.error = errno;
    return out;
  }
  out.soft = limit.rlim_cur;
  out.raised = true;
  return out;
}

void WarnIfFewFds(int max_connections) {
  const FdLimit fds = RaiseFdLimit();
  const uint64_t needed = static_cast<uint64_t>(max_connections) + kFdReserve;
  if (fds.soft >= needed) return;
  Log(Priority::kWarning, "fd_limit_low",
      {{"soft", std::to_string(fds.soft)},
       {"hard", std::to_string(fds.hard)},
       {"needed", std::to_string(needed)},
       {"error", fds.error == 0 ? "none" : std::strerror(fds.error)}});
}

}  // namespace provisiond
