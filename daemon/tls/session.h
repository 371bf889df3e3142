// session.h — one TLS connection on a non-blocking socket: handshake, peer classification (into
// the authority's PeerIdentity, daemon/authority/peer.h) and record I/O. The caller's event loop
// drives it and waits for readable/writable as it asks.
#pragma once

#include <mbedtls/ssl.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/scoped.h"
#include "base/types.h"
#include "ca/cert.h"
#include "daemon/authority/peer.h"
#include "daemon/tls/client_chain.h"
#include "daemon/tls/record_screen.h"
#include "daemon/tls/server_tls.h"

namespace provisiond::tls {

struct HandshakeFailure {
  std::string reason;  // "certificate not trusted", "no client certificate", ...
  int alert = 0;       // the alert sent to the client, 0 if none
};

class Session {
 public:
  enum class Status { kDone, kWantRead, kWantWrite, kClosed, kFailed };

  // Does not take ownership of fd, which must stay open until the Session is destroyed (the
  // destructor sends what is still queued). kCrypto if mbedtls_ssl_setup fails.
  static ca::Result<std::unique_ptr<Session>> Create(
      ServerTls& tls, int fd, ca::IdentitySource identity,
      CertificateStatusCheck* status_check);
  ~Session();

  // Drives the handshake. kDone once it completed and the peer passed the connection-level
  // policy (see header comment); kFailed with failure() set, the alert already sent.
  Status Handshake();
  const HandshakeFailure& failure() const { return failure_; }
  const PeerIdentity& peer() const { return peer_; }
  // A whole TLS record from the peer has been read (record_screen.h): more than a fragment.
  bool RecordRead() const { return record_screen_.record_complete(); }
  // Bytes from the peer not yet read as plaintext: read from the socket and not yet handed to
  // mbedTLS, part of a record handed to it, or plaintext it decrypted and Read has not taken.
  bool InputPending() const;
  // Presented leaf details even after a failed handshake (empty optional if none was presented).
  const std::optional<PresentedCert>& presented() const { return presented_; }

  // Appends up to max bytes of plaintext to out. kDone if some were read, kClosed on EOF or
  // close_notify, kFailed on a TLS error.
  Status Read(std::string& out, size_t max);
  // Writes from data; *written is how much was taken (all of it when kDone).
  Status Write(std::string_view data, size_t* written);
  // Best effort: a fatal alert or close_notify, ignoring would-block (the socket is closed next).
  void SendFatalAlert(int alert);
  void SendCloseNotify();
  // Sends what is still queued (a close_notify the socket did not take at once): kDone when
  // nothing is left, kWantWrite while the socket would block, kClosed if sending failed.
  Status FlushQueued() { return Flushed(Status::kDone); }

 private:
  Session(ServerTls& tls, int fd, ca::IdentitySource identity,
          CertificateStatusCheck* check);
  static int VerifyCallback(void* self, mbedtls_x509_crt* crt, int depth, uint32_t* flags);
  // presented_ for crt, described once per handshake (the callback and Classify both need it).
  const PresentedCert& DescribeOnce(const mbedtls_x509_crt& crt);
  // mbedTLS's bio. It writes and reads one record (a read: its 5-byte header, then the rest) at
  // a time; sent as they come, a TLS 1.3 server flight is six segments and a client flight
  // several reads each. Send queues records in out_ and Flush sends them in one call when the
  // operation returns; Recv reads up to 16 KiB at once and keeps what mbedTLS did not ask for
  // in in_. mbedTLS only reports WANT_READ after Recv found in_ empty and the socket drained,
  // so edge-triggered readiness never strands bytes in in_.
  static int Send(void* self, const unsigned char* buf, size_t len);
  static int Recv(void* self, unsigned char* buf, size_t len);
  // Sends what out_ holds. false if some is left (the socket would block) or sending failed.
  bool Flush();
  // After an mbedTLS call: flush, and if bytes are left, wait for the socket to take them.
  Status Flushed(Status status);
  Status FailHandshake(int ret);
  Status Classify();
  // The client's chain, bounded before it is verified (issue #12; session_chain.cc). Recv passes
  // what it hands mbedTLS through Screened: in TLS 1.2 the Certificate message is screened
  // there (got, or MBEDTLS_ERR_SSL_BAD_CERTIFICATE with chain_refusal_ set); in TLS 1.3 a
  // Certificate too large to be empty makes mbedTLS only parse it (hs authmode NONE), and
  // VerifyPresentedChain screens and verifies it after the handshake: it returns the screen's
  // refusal (alert in *alert), or empty, the verification's flags then in verify_flags_.
  int Screened(const unsigned char* buf, int got);
  // Recv passes what it hands mbedTLS through LengthScreened first (alerts.cc): got, or
  // MBEDTLS_ERR_SSL_INVALID_RECORD with record_overflow_ set once a record is over the limit.
  int LengthScreened(const unsigned char* buf, int got);
  std::string VerifyPresentedChain(const mbedtls_x509_crt& crt, int* alert);
  // alerts.cc — what the client reads when a handshake fails (docs/security.md, issue #12).
  // Send calls NoteSentRecord for each record: a fatal alert mbedTLS queued is remembered.
  void NoteSentRecord(const unsigned char* buf, size_t len);
  // mbedtls_ssl_handshake, step by step, with the two hooks below between steps (alerts.cc).
  int StepHandshake();
  // TLS 1.3: once the server's Finished is queued, outbound records use the application keys.
  void UseApplicationKeysAfterServerFinished();
  // The alert the failed handshake sent (mbedTLS's, or ours now if mbedTLS sent none); 0: none.
  int AlertForFailure(int ret, int chosen);
  // TLS 1.3: accept only the CertificateVerify scheme that names the leaf's curve.
  void RestrictCertVerifyScheme(const mbedtls_x509_crt& leaf);

  ServerTls& tls_;
  int fd_;
  ca::IdentitySource identity_;
  CertificateStatusCheck* status_check_;  // may be null
  std::string status_refusal_;            // why status_check_ refused the leaf
  std::string status_unavailable_;        // why status_check_ could not decide (the store)
  base::Scoped<mbedtls_ssl_context, mbedtls_ssl_init, mbedtls_ssl_free> ssl_;
  std::string out_;             // records mbedTLS wrote that the socket has not taken yet
  size_t out_offset_ = 0;       // of out_, already sent
  bool send_failed_ = false;    // the socket refused (reset, broken pipe): the peer is gone
  std::string in_;              // bytes read from the socket that mbedTLS has not asked for
  size_t in_offset_ = 0;
  // What the verify callback saw: the leaf, the final flags and whether the chain's top is the
  // issuing CA. Reset at each callback sequence start (depth is highest first).
  std::optional<PresentedCert> presented_;
  const mbedtls_x509_crt* presented_crt_ = nullptr;  // the certificate presented_ describes
  uint32_t verify_flags_ = 0;
  int top_depth_ = -1;
  bool anchor_is_issuing_ca_ = false;
  std::string anchor_subject_;     // of the chain's top, as PeerIdentity
  std::string anchor_key_sha256_;
  PeerIdentity peer_;
  HandshakeFailure failure_;
  std::optional<Tls12ChainScreen> tls12_screen_;  // while TLS 1.2 waits for the Certificate
  size_t tls13_certificate_bytes_ = 0;  // read while TLS 1.3 waits for the Certificate
  bool verify_after_handshake_ = false;  // TLS 1.3: mbedTLS only parsed the chain
  RecordScreen record_screen_;
  bool record_overflow_ = false;  // a record over the length limit: record_overflow is due
  HandshakeFailure chain_refusal_;       // TLS 1.2: what the screen refused, and the alert
  // The last fatal alert queued during the handshake: its number, kAlertEncrypted when mbedTLS
  // sent it encrypted and did not say which, 0 if none.
  static constexpr int kAlertEncrypted = -1;
  int sent_alert_ = 0;
};

}  // namespace provisiond::tls
