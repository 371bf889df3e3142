// status_check.cc — revocation and denylist lookups for the handshake (see status_check.h).
#include "daemon/authority/status_check.h"

namespace provisiond {
namespace {

StatusVerdict Refused(std::string reason) {
  return {StatusVerdict::Kind::kRefuse, std::move(reason)};
}

// The store did not answer: transient failures make the connection's enrollments 503, anything
// else (a corrupt store, a bug) refuses the certificate.
StatusVerdict NoAnswer(const std::string& what, const db::Error& error) {
  const bool transient = error.code == db::Code::kIo || error.code == db::Code::kBusy ||
                         error.code == db::Code::kFull;
  return {transient ? StatusVerdict::Kind::kUnavailable : StatusVerdict::Kind::kRefuse,
          what + " unavailable: " + error.detail};
}

}  // namespace

StatusVerdict StoreStatusCheck::Check(const PresentedCert& leaf, AuthKind kind) {
  if (kind == AuthKind::kOperational) {
    auto status = store_.CertificateStatus(leaf.serial_hex);
    if (!status) return NoAnswer("certificate status", status.error());
    switch (*status) {
      case db::CertStatus::kActive: break;
      case db::CertStatus::kRevoked: return Refused("operational certificate revoked");
      case db::CertStatus::kUnknown: return Refused("operational certificate not in the store");
    }
  }
  auto denied = store_.IsBootstrapDenied(leaf.fingerprint, leaf.issuer, leaf.serial_hex);
  if (!denied) return NoAnswer("denylist", denied.error());
  if (*denied) return Refused("bootstrap certificate denylisted");
  return {};
}

}  // namespace provisiond
