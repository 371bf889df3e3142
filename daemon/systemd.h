// systemd.h — the daemon's side of the service manager protocol (sd_notify(3), sd_listen_fds(3),
// sd_watchdog_enabled(3)). Everything here is a no-op or empty when provisiond is not run by
// systemd (NOTIFY_SOCKET, LISTEN_FDS and WATCHDOG_USEC unset), so `provisiond serve` in a terminal
// or a test behaves exactly as before.
//
// Notification sequence for Type=notify (systemd.service(5)):
//   start:  READY=1 + STATUS=...   only once the listening socket is open, the database is open
//                                  and the workers are running
//   HUP:    RELOADING=1 -> (reload) -> READY=1 + STATUS=...   (also after a refused reload)
//   TERM:   STOPPING=1 -> drain -> exit 0
//   always: WATCHDOG=1 every WatchdogSec/2, only while the workers' event loops make progress;
//           STATUS=... with counters every few seconds.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/unique_fd.h"

namespace provisiond::sd {

// Sends one notification (e.g. "READY=1\nSTATUS=..."). Returns true if a manager is listening
// (NOTIFY_SOCKET set and the datagram sent); false otherwise. Never fails the caller.
bool Notify(std::string_view state);

// How often the manager wants WATCHDOG=1 (WatchdogSec=), or nullopt if it does not.
std::optional<std::chrono::microseconds> WatchdogInterval();

struct ListenFd {
  base::UniqueFd fd;
  std::string name;  // FileDescriptorName= (systemd-socket-activate --fdname), "" if none
};

// The listening sockets passed by the manager (LISTEN_FDS/LISTEN_PID; the variables are unset
// afterwards so children never see them). Empty if none were passed. Each one is checked to be
// a listening TCP socket and made non-blocking; the caller owns them (all are closed if one
// is refused). Fails naming the first unusable descriptor.
base::Result<std::vector<ListenFd>> TakeListenFds();

}  // namespace provisiond::sd
