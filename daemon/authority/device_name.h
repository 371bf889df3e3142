// device_name.h — who a request speaks for: the device id within the identity scope
// (--identity-scope), and whether a bootstrap chain's trust anchor may use a labelled profile.
#pragma once

#include <string>
#include <string_view>

#include "ca/error.h"
#include "daemon/authority/peer.h"
#include "daemon/authority/policy.h"

namespace provisiond {

// The device a request speaks for, within the identity scope (policy.h, IdentityScope).
struct DeviceName {
  std::string id;         // from the client certificate (CN, or --identity for bootstrap ones)
  std::string scope;      // "" (global) or 16 lowercase hex digits (per-issuer)
  std::string qualified;  // the store's device_id: id, or scope + ":" + id
};

// Bootstrap: scope = the first 16 hex digits of the trust anchor's key hash under kPerIssuer,
// else "". Operational: the certificate's dnQualifier, whatever the setting (renewal keeps the
// identity it was issued). kPolicy when the certificate names no device id or the dnQualifier is
// not a scope we write.
ca::Result<DeviceName> DeviceNameOf(const PeerIdentity& peer, IdentityScope scope);

// True if the rule admits a bootstrap chain that ended at peer's trust anchor.
bool AnchorAllowed(const ProfileRule& rule, const PeerIdentity& peer);

// Whether peer's bootstrap chain may enroll under the profile `label` whose rule is `rule`: the
// rule decides when there is one; without one, the default profile ("") admits any trusted CA
// and a labelled profile admits nobody.
bool ProfileAllows(std::string_view label, const ProfileRule* rule, const PeerIdentity& peer);

}  // namespace provisiond
