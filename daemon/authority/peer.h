// peer.h — who is on the other end of a connection, as the authority decides on it: the kind of
// certificate presented, its details and the device id it names. The TLS layer fills these
// (daemon/tls/session.cc) and asks CertificateStatusCheck during the handshake.
//
// Who the peer is (decided once, after the handshake, from the verified chain's trust anchor):
//   no certificate           -> kNone        (only possible with --client-auth optional)
//   chain ends at issuing CA -> kOperational (may use simplereenroll only)
//   chain ends elsewhere     -> kBootstrap   (a manufacturer CA: may use simpleenroll only)
#pragma once

#include <optional>
#include <string>

#include "base/types.h"

namespace provisiond {

enum class AuthKind { kNone, kBootstrap, kOperational };
const char* AuthKindName(AuthKind kind);

// The leaf certificate the client presented (filled even when verification fails, for logs).
struct PresentedCert {
  std::string subject;
  base::UnixTime not_after = 0;
  std::string issuer;
  std::string serial_hex;
  std::string fingerprint;
  base::Bytes public_key_der;
};

struct PeerIdentity {
  AuthKind kind = AuthKind::kNone;
  std::optional<PresentedCert> cert;
  std::string device_id;       // empty when the certificate names no acceptable device id
  std::string identity_error;  // why device_id is empty
  std::string tls_version;     // "TLSv1.3"
  bool tls13 = false;
  // RFC 9266 tls-exporter channel binding (32 bytes, base64), TLS 1.3 only; empty otherwise.
  std::string channel_binding;
  // The trust anchor the verified chain ended at (the manufacturer CA for kBootstrap): its
  // subject and the SHA-256 (hex) of its SubjectPublicKeyInfo. Empty for kNone.
  std::string anchor_subject;
  std::string anchor_key_sha256;
  // The leaf subject's dnQualifier ("" if none): the identity scope of an operational
  // certificate issued under --identity-scope per-issuer.
  std::string dn_qualifier;
  // Why the handshake's status check could not ask the store ("" when it could): the handshake
  // completed, and every enrollment on this connection is answered 503 + Retry-After
  // (EnrollCode::kStoreUnavailable) without any other step.
  std::string status_unavailable;
};

// What a status check decided. kRefuse: the handshake fails with certificate_revoked (44).
// kUnavailable: the store could not answer (down, read-only, failing over); the handshake
// completes, PeerIdentity::status_unavailable carries the reason and the connection's
// enrollments get 503 + Retry-After, so a device retries later instead of reading a refusal.
struct StatusVerdict {
  enum class Kind { kAccept, kRefuse, kUnavailable };
  Kind kind = Kind::kAccept;
  std::string reason;  // "" for kAccept
};

// Status checks that need the database, asked during the handshake for the client's leaf once its
// chain verified: a revoked operational certificate or a denylisted bootstrap certificate is
// refused there. Implemented by StoreStatusCheck (status_check.h); the TLS layer only holds the
// interface.
class CertificateStatusCheck {
 public:
  virtual ~CertificateStatusCheck() = default;
  virtual StatusVerdict Check(const PresentedCert& leaf, AuthKind kind) = 0;
};

}  // namespace provisiond
