// status_check.cc — revocation and denylist lookups for the handshake (see status_check.h).
#include "daemon/authority/status_check.h"

namespace provisiond {

std::optional<std::string> StoreStatusCheck::Refuse(const PresentedCert& leaf,
                                                    AuthKind kind) {
  if (kind == AuthKind::kOperational) {
    auto status = store_.CertificateStatus(leaf.serial_hex);
    if (!status) return "certificate status unavailable: " + status.error().detail;
    switch (*status) {
      case db::CertStatus::kActive: return std::nullopt;
      case db::CertStatus::kRevoked: return "operational certificate revoked";
      case db::CertStatus::kUnknown: return "operational certificate not in the store";
    }
  }
  auto denied = store_.IsBootstrapDenied(leaf.fingerprint, leaf.issuer, leaf.serial_hex);
  if (!denied) return "denylist unavailable: " + denied.error().detail;
  if (*denied) return "bootstrap certificate denylisted";
  return std::nullopt;
}

}  // namespace provisiond
