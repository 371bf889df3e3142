// fd_limit.h — the descriptors the daemon may hold: its soft RLIMIT_NOFILE raised to the hard
// limit at start, so that --max-connections is not cut short by a shell's default of 1024.
#pragma once

#include <cstdint>

namespace provisiond {

// Descriptors the daemon holds besides connections: database, listeners, epoll and event fds,
// the metrics and CRL listeners, the CA key, log and config files.
inline constexpr uint64_t kFdReserve = 64;

struct FdLimit {
  uint64_t soft = 0;  // in force after the call
  uint64_t hard = 0;
  bool raised = false;  // the soft limit was below the hard one and now equals it
  int error = 0;        // errno of a failed getrlimit/setrlimit (e.g. EPERM under a seccomp
                        // filter that denies @resources, as provisiond.service's does)
};

// Raises the soft RLIMIT_NOFILE to the hard limit if it is lower (no call otherwise: systemd's
// LimitNOFILE= sets both, and the unit's SystemCallFilter denies setrlimit).
FdLimit RaiseFdLimit();

// RaiseFdLimit, then a warning (fd_limit_low) if max_connections + kFdReserve do not fit.
void WarnIfFewFds(int max_connections);

}  // namespace provisiond
