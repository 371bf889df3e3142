// policy.h — the authority's settings: rate specs, the identity scope, the labelled profiles'
// allow rule, the issuance policy, and AuthorityConfig (what the room reads of the serve config).
#pragma once

#include <chrono>
#include <set>
#include <string>

#include "base/types.h"
#include "ca/cert.h"

namespace provisiond {

struct RateSpec {
  double burst = 0;              // bucket size; 0 = no limit
  std::chrono::seconds period{0};  // `burst` tokens come back over this period
};

// Where device ids are unique (--identity-scope). kGlobal: one namespace across every trusted
// manufacturer CA (CN=dev-3 from two vendors is one device). kPerIssuer: per trust anchor; the
// store's device_id is "<scope>:<id>" with scope = the first 16 hex digits of the SHA-256 of the
// anchor's SubjectPublicKeyInfo, and the operational certificate carries it (dnQualifier, SAN).
enum class IdentityScope { kGlobal, kPerIssuer };

// Who may enroll under a labelled profile (--profile ...,allow=FILE|any). A bootstrap chain is
// allowed when it ends at a trust anchor whose key is listed. No rule = nobody.
struct ProfileRule {
  bool any_anchor = false;                // allow=any
  std::set<std::string> anchor_key_sha256;  // SHA-256 (hex) of each allowed anchor's SPKI
};

// Who may get what, how often (enforced in daemon/authority/enrollment.cc).
struct Policy {
  int bootstrap_max_enrollments = 1;  // enrollments per bootstrap certificate AND per device id
  base::UnixTime renew_before = 0;    // re-enroll only this close to notAfter; 0 = any time
  bool reenroll_same_key = false;     // allow re-enrollment with the current key
  RateSpec device_rate{20, std::chrono::hours(1)};  // per device id (within the identity scope)
  RateSpec address_rate{};                          // per source address; off by default (NAT)
  // serve --require-manifest: simpleenroll only for a bootstrap certificate some factory
  // manifest lists, under the device id it lists (daemon/authority/manifest_check.cc).
  bool require_manifest = false;
};

// The settings the authority reads on each request. ServeConfig (daemon/config.h) extends it, so
// the daemon hands the room its whole config as this and the room sees nothing else of it.
struct AuthorityConfig {
  ca::IdentitySource identity = ca::IdentitySource::kCommonName;  // bootstrap cert's id attribute
  IdentityScope identity_scope = IdentityScope::kGlobal;
  Policy policy;
};

}  // namespace provisiond
