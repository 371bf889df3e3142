// reload.h — what a SIGHUP may change in a running daemon. Reloadable: the trust store and the
// server certificate/key (re-read from disk), limits (max-connections), the certificate
// profiles (default and labelled), the enrollment policy except rate limits, tls-min, the
// drain timeout and the log level. Restart-only: anything bound at start (state-dir, store,
// listen, workers, metrics-listen), the identity source and client-auth mode (they change what a
// connected peer *is*), and the rate-limit specs (their buckets hold state). A restart-only
// change in the new config is logged and ignored; the rest of the new config still applies.
#pragma once

#include <string>
#include <vector>

#include "daemon/config.h"

namespace provisiond {

struct ReloadPlan {
  ServeConfig config;                     // the running config with next's reloadable settings
  std::vector<std::string> restart_only;  // names of restart-only settings next changed
};

ReloadPlan PlanReload(const ServeConfig& running, const ServeConfig& next);

}  // namespace provisiond
