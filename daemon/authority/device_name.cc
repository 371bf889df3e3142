// device_name.cc — the device id within its identity scope; profile rules (see device_name.h).
#include "daemon/authority/device_name.h"

namespace provisiond {
namespace {

bool IsScope(std::string_view s) {
  return s.size() == 16 && s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

}  // namespace

ca::Result<DeviceName> DeviceNameOf(const PeerIdentity& peer, IdentityScope scope) {
  if (peer.device_id.empty()) {
    return ca::Fail(ca::Code::kPolicy,
                    peer.identity_error.empty() ? "no device id" : peer.identity_error);
  }
  DeviceName name{.id = peer.device_id};
  if (peer.kind == AuthKind::kOperational) {
    name.scope = peer.dn_qualifier;
    if (!name.scope.empty() && !IsScope(name.scope)) {
      return ca::Fail(ca::Code::kPolicy, "operational certificate's dnQualifier is not a scope");
    }
  } else if (scope == IdentityScope::kPerIssuer) {
    if (peer.anchor_key_sha256.size() != 64) {
      return ca::Fail(ca::Code::kPolicy, "trust anchor of the client certificate unknown");
    }
    name.scope = peer.anchor_key_sha256.substr(0, 16);
  }
  name.qualified = name.scope.empty() ? name.id : name.scope + ":" + name.id;
  return name;
}

bool AnchorAllowed(const ProfileRule& rule, const PeerIdentity& peer) {
  return rule.any_anchor || (!peer.anchor_key_sha256.empty() &&
                             rule.anchor_key_sha256.contains(peer.anchor_key_sha256));
}

bool ProfileAllows(std::string_view label, const ProfileRule* rule, const PeerIdentity& peer) {
  if (rule == nullptr) return label.empty();
  return AnchorAllowed(*rule, peer);
}

}  // namespace provisiond
