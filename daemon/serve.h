// serve.h — `provisiond serve`: loads the key material, opens the database, starts the server
// (on a socket systemd passed, or binding --listen itself) and the optional metrics listener,
// tells systemd it is ready, then runs the signal loop on the calling thread:
//   SIGHUP          re-parse argv + config file, reload trust store, server certificate,
//                   profiles, limits and log level; a bad config is refused and logged, the old
//                   one stays in force; established connections are never closed.
//   SIGTERM/SIGINT  stop accepting, let in-flight requests finish (drain-timeout), close the
//                   database, exit 0.
//   timer           WATCHDOG=1 (if systemd asked) while the workers make progress, STATUS=.
#pragma once

#include <string>
#include <vector>

#include "daemon/config.h"
#include "daemon/store_open.h"

namespace provisiond {

// location: config.store, resolved (main refuses a bad one as a usage error). argv is kept for
// SIGHUP (the config file is re-read through the same command line). Returns the process exit
// code: 0 after a clean stop, 1 if start-up failed (logged; a database whose schema this program
// does not know is one line naming both versions).
int RunServe(const ServeConfig& config, const StoreLocation& location,
             const std::vector<std::string>& argv);

}  // namespace provisiond
