// fd_limit.cc — raising the soft RLIMIT_NOFILE to the hard limit (fd_limit.h).
#include "daemon/fd_limit.h"

#include <sys/resource.h>

#include <cerrno>

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

}  // namespace provisiond
