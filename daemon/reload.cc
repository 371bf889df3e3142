// reload.cc — merging a re-read config into the running one (see reload.h).
#include "daemon/reload.h"

namespace provisiond {
namespace {

bool SameRate(const RateSpec& a, const RateSpec& b) {
  return a.burst == b.burst && a.period == b.period;
}

}  // namespace

ReloadPlan PlanReload(const ServeConfig& running, const ServeConfig& next) {
  ReloadPlan plan{next, {}};
  ServeConfig& c = plan.config;
  // Each restart-only setting: note a change, keep the running value.
  auto keep = [&](const char* name, bool changed, auto apply) {
    if (changed) plan.restart_only.push_back(name);
    apply();
  };
  keep("state-dir", running.state_dir != next.state_dir, [&] { c.state_dir = running.state_dir; });
  keep("store", running.store != next.store, [&] { c.store = running.store; });
  keep("ca-key-uri", running.ca_key != next.ca_key, [&] { c.ca_key = running.ca_key; });
  keep("listen", running.listen != next.listen, [&] { c.listen = running.listen; });
  keep("workers", running.workers != next.workers, [&] { c.workers = running.workers; });
  keep("metrics-listen", running.metrics_listen != next.metrics_listen,
       [&] { c.metrics_listen = running.metrics_listen; });
  keep("crl-listen", running.crl_listen != next.crl_listen,
       [&] { c.crl_listen = running.crl_listen; });
  keep("crl-period", running.crl_period != next.crl_period,
       [&] { c.crl_period = running.crl_period; });
  keep("client-auth", running.client_auth != next.client_auth,
       [&] { c.client_auth = running.client_auth; });
  keep("identity", running.identity != next.identity, [&] { c.identity = running.identity; });
  keep("identity-scope", running.identity_scope != next.identity_scope,
       [&] { c.identity_scope = running.identity_scope; });
  keep("rate-limit-device", !SameRate(running.policy.device_rate, next.policy.device_rate),
       [&] { c.policy.device_rate = running.policy.device_rate; });
  keep("rate-limit-address", !SameRate(running.policy.address_rate, next.policy.address_rate),
       [&] { c.policy.address_rate = running.policy.address_rate; });
  keep("retry-after", running.retry_after_seconds != next.retry_after_seconds,
       [&] { c.retry_after_seconds = running.retry_after_seconds; });
  return plan;
}

}  // namespace provisiond
