// reload_test.cc — what SIGHUP may change, and what it keeps until a restart.
#include "daemon/reload.h"

#include <doctest/doctest.h>

using namespace provisiond;

TEST_CASE("reloadable settings take the new values") {
  ServeConfig running;
  running.trust_paths = {"/a"};
  ServeConfig next = running;
  next.trust_paths = {"/b"};
  next.limits.max_connections = 5;
  next.default_profile.organization = "New Org";
  next.labeled_profiles["line-b"] = ca::Profile{};
  next.policy.bootstrap_max_enrollments = 3;
  next.tls_min_minor = 3;
  ReloadPlan plan = PlanReload(running, next);
  CHECK(plan.restart_only.empty());
  CHECK(plan.config.trust_paths == std::vector<std::string>{"/b"});
  CHECK(plan.config.limits.max_connections == 5);
  CHECK(plan.config.default_profile.organization == "New Org");
  CHECK(plan.config.labeled_profiles.count("line-b") == 1);
  CHECK(plan.config.policy.bootstrap_max_enrollments == 3);
  CHECK(plan.config.tls_min_minor == 3);
}

TEST_CASE("restart-only settings keep the running values and are named") {
  ServeConfig running;
  running.state_dir = "/var/lib/provisiond";
  running.listen = "0.0.0.0:8443";
  ServeConfig next = running;
  next.state_dir = "/elsewhere";
  next.store.url = "postgresql://app@db/provisiond";
  next.listen = "0.0.0.0:9443";
  next.workers = 7;
  next.metrics_listen = "127.0.0.1:9102";
  next.client_auth = ClientAuth::kOptional;
  next.identity = ca::IdentitySource::kSerialNumber;
  next.identity_scope = IdentityScope::kPerIssuer;
  next.policy.device_rate = RateSpec{5, std::chrono::minutes(1)};
  next.limits.max_connections = 42;  // reloadable: applied alongside
  ReloadPlan plan = PlanReload(running, next);
  CHECK(plan.restart_only == std::vector<std::string>{"state-dir", "store", "listen", "workers",
                                                      "metrics-listen", "client-auth", "identity",
                                                      "identity-scope", "rate-limit-device"});
  CHECK(plan.config.state_dir == "/var/lib/provisiond");
  CHECK(plan.config.store.url.empty());
  CHECK(plan.config.listen == "0.0.0.0:8443");
  CHECK(plan.config.workers == 0);
  CHECK(plan.config.metrics_listen.empty());
  CHECK(plan.config.client_auth == ClientAuth::kRequired);
  CHECK(plan.config.identity == ca::IdentitySource::kCommonName);
  CHECK(plan.config.identity_scope == IdentityScope::kGlobal);
  CHECK(plan.config.policy.device_rate.burst == running.policy.device_rate.burst);
  CHECK(plan.config.limits.max_connections == 42);
}
