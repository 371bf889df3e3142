// session.cc — one non-blocking TLS server connection (see session.h).
#define MBEDTLS_ALLOW_PRIVATE_ACCESS  // x509_crt.ca_istrue
#include "daemon/tls/session.h"

#include <mbedtls/net_sockets.h>  // MBEDTLS_ERR_NET_* codes only; sockets are ours
#include <mbedtls/oid.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "ca/encoding.h"
#include "ca/keys.h"

namespace provisiond::tls {
namespace {

// Queued output above this makes Send flush first (a flight or a reply is a few KiB).
constexpr size_t kMaxQueuedOutput = 64 * 1024;
// One recv asks for this much; mbedTLS asks for a record header, then the record.
constexpr size_t kReadAhead = 16 * 1024;

PresentedCert Describe(const mbedtls_x509_crt& crt) {
  PresentedCert p;
  p.subject = ca::DnString(crt.subject);
  p.not_after = ca::ToUnixTime(crt.valid_to);
  p.issuer = ca::DnString(crt.issuer);
  p.serial_hex = ca::CertSerialHex(crt);
  p.fingerprint = ca::CertFingerprint(crt);
  if (auto der = ca::PublicKeyDer(crt.pk)) p.public_key_der = std::move(*der);
  return p;
}

bool IsTls13(const mbedtls_ssl_context* ssl) {
  return mbedtls_ssl_get_version_number(ssl) == MBEDTLS_SSL_VERSION_TLS1_3;
}

}  // namespace

Session::Session(ServerTls& tls, int fd, ca::IdentitySource identity,
                 CertificateStatusCheck* check)
    : tls_(tls), fd_(fd), identity_(identity), status_check_(check) {}

Session::~Session() { Flush(); }  // best effort: an alert or close_notify still queued

int Session::Send(void* self_ptr, const unsigned char* buf, size_t len) {
  auto* self = static_cast<Session*>(self_ptr);
  if (self->send_failed_) return MBEDTLS_ERR_NET_CONN_RESET;
  if (self->out_.size() - self->out_offset_ + len > kMaxQueuedOutput && !self->Flush()) {
    return self->send_failed_ ? MBEDTLS_ERR_NET_CONN_RESET : MBEDTLS_ERR_SSL_WANT_WRITE;
  }
  self->out_.append(reinterpret_cast<const char*>(buf), len);
  self->NoteSentRecord(buf, len);
  return static_cast<int>(len);
}

bool Session::Flush() {
  while (out_offset_ < out_.size() && !send_failed_) {
    ssize_t n = ::send(fd_, out_.data() + out_offset_, out_.size() - out_offset_, MSG_NOSIGNAL);
    if (n >= 0) {
      out_offset_ += static_cast<size_t>(n);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return false;
    send_failed_ = true;  // EPIPE, ECONNRESET, ...: the next Send tells mbedTLS
  }
  if (send_failed_) return false;
  if (!out_.empty()) std::string().swap(out_);  // a held connection keeps no flight buffer
  out_offset_ = 0;
  return true;
}

Session::Status Session::Flushed(Status status) {
  if (Flush()) return status;
  if (send_failed_) return status == Status::kFailed ? status : Status::kClosed;
  return Status::kWantWrite;
}

int Session::Recv(void* self_ptr, unsigned char* buf, size_t len) {
  auto* self = static_cast<Session*>(self_ptr);
  if (self->in_offset_ < self->in_.size()) {
    size_t take = std::min(len, self->in_.size() - self->in_offset_);
    std::memcpy(buf, self->in_.data() + self->in_offset_, take);
    self->in_offset_ += take;
    if (self->in_offset_ == self->in_.size()) {  // drained: give the memory back
      std::string().swap(self->in_);
      self->in_offset_ = 0;
    }
    return self->Screened(buf, self->LengthScreened(buf, static_cast<int>(take)));
  }
  // On the stack: only what mbedTLS did not ask for is kept (in_), usually a few hundred bytes.
  unsigned char chunk[kReadAhead];
  ssize_t n;
  do {
    n = ::recv(self->fd_, chunk, sizeof chunk, 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return MBEDTLS_ERR_SSL_WANT_READ;
    if (errno == ECONNRESET) return MBEDTLS_ERR_NET_CONN_RESET;
    return MBEDTLS_ERR_NET_RECV_FAILED;
  }
  size_t got = static_cast<size_t>(n);
  size_t take = std::min(len, got);
  std::memcpy(buf, chunk, take);
  if (got > take) {
    self->in_.assign(reinterpret_cast<const char*>(chunk) + take, got - take);
    self->in_offset_ = 0;
  }
  // 0: the peer closed
  return self->Screened(buf, self->LengthScreened(buf, static_cast<int>(take)));
}

ca::Result<std::unique_ptr<Session>> Session::Create(ServerTls& tls, int fd,
                                                     ca::IdentitySource identity,
                                                     CertificateStatusCheck* status_check) {
  std::unique_ptr<Session> s(new Session(tls, fd, identity, status_check));
  int ret = mbedtls_ssl_setup(s->ssl_.get(), tls.config());
  if (ret != 0) return ca::Fail(ca::Code::kCrypto, ca::MbedtlsError("mbedtls_ssl_setup", ret));
  mbedtls_ssl_set_bio(s->ssl_.get(), s.get(), &Session::Send, &Session::Recv, nullptr);
  mbedtls_ssl_set_verify(s->ssl_.get(), &Session::VerifyCallback, s.get());
  return s;
}

// mbedTLS calls this for each certificate of the built chain, the top (trust anchor, when one was
// found) first and the client's leaf (depth 0) last; the flags it leaves decide the alert.
int Session::VerifyCallback(void* self_ptr, mbedtls_x509_crt* crt, int depth, uint32_t* flags) {
  auto* self = static_cast<Session*>(self_ptr);
  if (depth > self->top_depth_) {
    self->top_depth_ = depth;
    self->anchor_is_issuing_ca_ = self->tls_.IsIssuingCa(*crt);
    self->anchor_subject_ = ca::DnString(crt->subject);
    auto anchor_key = ca::PublicKeyDer(crt->pk);
    self->anchor_key_sha256_ = anchor_key ? ca::Sha256Hex(*anchor_key) : "";
  }
  if (depth == 0) {
    // A CA certificate is never a device: unsupported_certificate, like a wrong key usage.
    if (crt->MBEDTLS_PRIVATE(ca_istrue)) *flags |= MBEDTLS_X509_BADCERT_KEY_USAGE;
    // mbedTLS would send certificate_unknown for "not yet valid"; say certificate_expired.
    if (*flags & MBEDTLS_X509_BADCERT_FUTURE) *flags |= MBEDTLS_X509_BADCERT_EXPIRED;
    self->DescribeOnce(*crt);
    // Only a chain that verified is worth a database lookup; the lookup decides revocation.
    if (*flags == 0 && (self->verify_flags_ == 0) && self->status_check_ != nullptr) {
      auto kind = self->anchor_is_issuing_ca_ ? AuthKind::kOperational : AuthKind::kBootstrap;
      StatusVerdict verdict = self->status_check_->Check(*self->presented_, kind);
      if (verdict.kind == StatusVerdict::Kind::kRefuse) {
        *flags |= MBEDTLS_X509_BADCERT_REVOKED;
        self->status_refusal_ = std::move(verdict.reason);
      } else if (verdict.kind == StatusVerdict::Kind::kUnavailable) {
        self->status_unavailable_ = std::move(verdict.reason);
      }
    }
  }
  self->verify_flags_ |= *flags;
  return 0;
}

const PresentedCert& Session::DescribeOnce(const mbedtls_x509_crt& crt) {
  if (!presented_ || presented_crt_ != &crt) {
    presented_ = Describe(crt);
    presented_crt_ = &crt;
  }
  return *presented_;
}

Session::Status Session::Handshake() {
  if (!Flush()) return send_failed_ ? FailHandshake(MBEDTLS_ERR_NET_CONN_RESET) : Status::kWantWrite;
  int ret = StepHandshake();
  if (ret == 0) return Flushed(Classify());
  if (ret == MBEDTLS_ERR_SSL_WANT_READ) return Flushed(Status::kWantRead);
  if (ret == MBEDTLS_ERR_SSL_WANT_WRITE) return Flushed(Status::kWantWrite);
  Status failed = FailHandshake(ret);
  Flush();  // the alert, if one was queued; the connection closes next either way
  return failed;
}

Session::Status Session::FailHandshake(int ret) {
  const bool tls13 = IsTls13(ssl_.get());
  const uint32_t flags = verify_flags_ | mbedtls_ssl_get_verify_result(ssl_.get());
  // TLS 1.2 reports a usage failure (e.g. EKU without clientAuth) as BAD_CERTIFICATE after
  // sending the alert for the flags; treat it like a verification failure.
  if (ret == MBEDTLS_ERR_SSL_BAD_CERTIFICATE && presented_ && flags != 0 && flags != UINT32_MAX) {
    ret = MBEDTLS_ERR_X509_CERT_VERIFY_FAILED;
  }
  if (record_overflow_) {  // RecordScreen: a record header announced more than the limit
    failure_ = {"record of " + std::to_string(record_screen_.last_length()) +
                    " bytes, over the length limit",
                MBEDTLS_SSL_ALERT_MSG_RECORD_OVERFLOW};
    SendFatalAlert(failure_.alert);
    return Status::kFailed;
  }
  if (chain_refusal_.alert != 0) {  // the TLS 1.2 screen stopped the chain before mbedTLS
    failure_ = chain_refusal_;
    SendFatalAlert(failure_.alert);
    return Status::kFailed;
  }
  switch (ret) {
    case MBEDTLS_ERR_X509_CERT_VERIFY_FAILED:
      failure_ = {"client certificate rejected: " +
                      (status_refusal_.empty() ? DescribeVerifyFlags(flags) : status_refusal_),
                  AlertForVerifyFlags(flags)};
      break;
    case MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE:
      // TLS 1.2 only (TLS 1.3 is decided in Classify): mbedTLS closes without an alert, so we
      // send handshake_failure, still in plaintext before ChangeCipherSpec (RFC 5246 §7.4.6).
      failure_ = {"no client certificate", tls13 ? MBEDTLS_SSL_ALERT_MSG_CERT_REQUIRED
                                                 : MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE};
      SendFatalAlert(failure_.alert);
      break;
    case MBEDTLS_ERR_SSL_BAD_PROTOCOL_VERSION:
      failure_ = {"protocol version not supported", MBEDTLS_SSL_ALERT_MSG_PROTOCOL_VERSION};
      break;
    case MBEDTLS_ERR_SSL_CONN_EOF:
    case MBEDTLS_ERR_NET_CONN_RESET:
      failure_ = {"peer closed the connection during the handshake", 0};
      break;
    case MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE:
      failure_ = {"peer sent a fatal alert", 0};
      break;
    default:
      failure_ = {ca::MbedtlsError("mbedtls_ssl_handshake", ret), 0};
  }
  failure_.alert = AlertForFailure(ret, failure_.alert);
  return Status::kFailed;
}

// Connection-level policy once mbedTLS finished the handshake. With --client-auth required
// mbedTLS has already refused missing or invalid certificates; with optional it lets them through
// and we refuse an invalid one here (a presented certificate must verify, RFC 7030 §3.3.2).
Session::Status Session::Classify() {
  peer_.tls_version = mbedtls_ssl_get_version(ssl_.get());
  peer_.tls13 = IsTls13(ssl_.get());
  if (peer_.tls13) {
    // RFC 9266: label "EXPORTER-Channel-Binding", empty context, 32 bytes.
    static constexpr char kLabel[] = "EXPORTER-Channel-Binding";
    unsigned char binding[32];
    if (mbedtls_ssl_export_keying_material(ssl_.get(), binding, sizeof binding, kLabel,
                                           sizeof kLabel - 1, nullptr, 0, 0) == 0) {
      peer_.channel_binding = ca::Base64Encode(binding, false);
    }
  }
  const mbedtls_x509_crt* crt = mbedtls_ssl_get_peer_cert(ssl_.get());
  if (crt == nullptr) {
    if (tls_.client_auth() == ClientAuth::kRequired) {
      int alert = IsTls13(ssl_.get()) ? MBEDTLS_SSL_ALERT_MSG_CERT_REQUIRED
                                      : MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE;
      SendFatalAlert(alert);
      failure_ = {"no client certificate", alert};
      return Status::kFailed;
    }
    peer_.kind = AuthKind::kNone;
    return Status::kDone;
  }
  DescribeOnce(*crt);  // for the log, whatever the verdict
  int chain_alert = 0;
  if (std::string refusal = VerifyPresentedChain(*crt, &chain_alert); !refusal.empty()) {
    SendFatalAlert(chain_alert);
    failure_ = {std::move(refusal), chain_alert};
    return Status::kFailed;
  }
  uint32_t flags = mbedtls_ssl_get_verify_result(ssl_.get()) | verify_flags_;
  if (flags != 0) {
    int alert = AlertForVerifyFlags(flags);
    SendFatalAlert(alert);
    failure_ = {"client certificate rejected: " +
                    (status_refusal_.empty() ? DescribeVerifyFlags(flags) : status_refusal_),
                alert};
    return Status::kFailed;
  }
  peer_.cert = DescribeOnce(*crt);
  peer_.kind = anchor_is_issuing_ca_ ? AuthKind::kOperational : AuthKind::kBootstrap;
  peer_.anchor_subject = anchor_subject_;
  peer_.anchor_key_sha256 = anchor_key_sha256_;
  peer_.status_unavailable = status_unavailable_;
  peer_.dn_qualifier =
      ca::DnAttribute(crt->subject, std::string_view(MBEDTLS_OID_AT_DN_QUALIFIER,
                                                     MBEDTLS_OID_SIZE(MBEDTLS_OID_AT_DN_QUALIFIER)))
          .value_or("");
  // Operational certificates always carry the id in CN (we issued them); bootstrap certificates
  // carry it where the operator configured.
  auto id = ca::DeviceIdOf(*crt, peer_.kind == AuthKind::kOperational
                                     ? ca::IdentitySource::kCommonName
                                     : identity_);
  if (id) {
    peer_.device_id = *id;
  } else {
    peer_.identity_error = id.error().detail;
  }
  return Status::kDone;
}

bool Session::InputPending() const {
  return in_offset_ < in_.size() || record_screen_.mid_record() ||
         mbedtls_ssl_check_pending(ssl_.get()) != 0;
}

Session::Status Session::Read(std::string& out, size_t max) {
  if (!Flush()) return send_failed_ ? Status::kClosed : Status::kWantWrite;
  unsigned char buf[4096];
  size_t want = max < sizeof buf ? max : sizeof buf;
  int ret = mbedtls_ssl_read(ssl_.get(), buf, want);
  if (ret > 0) {
    out.append(reinterpret_cast<char*>(buf), static_cast<size_t>(ret));
    return Status::kDone;
  }
  // mbedtls_ssl_read may have written (a TLS 1.2 alert, a key update): send it before waiting.
  if (ret == MBEDTLS_ERR_SSL_WANT_READ) return Flushed(Status::kWantRead);
  if (ret == MBEDTLS_ERR_SSL_WANT_WRITE) return Flushed(Status::kWantWrite);
  if (ret == 0 || ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || ret == MBEDTLS_ERR_NET_CONN_RESET) {
    return Status::kClosed;
  }
  if (record_overflow_) SendFatalAlert(MBEDTLS_SSL_ALERT_MSG_RECORD_OVERFLOW);
  return Status::kFailed;
}

Session::Status Session::Write(std::string_view data, size_t* written) {
  *written = 0;
  if (!Flush()) return send_failed_ ? Status::kFailed : Status::kWantWrite;
  while (*written < data.size()) {
    int ret = mbedtls_ssl_write(
        ssl_.get(), reinterpret_cast<const unsigned char*>(data.data()) + *written,
        data.size() - *written);
    if (ret > 0) {
      *written += static_cast<size_t>(ret);
      continue;
    }
    if (ret == MBEDTLS_ERR_SSL_WANT_WRITE) return Flushed(Status::kWantWrite);
    if (ret == MBEDTLS_ERR_SSL_WANT_READ) return Flushed(Status::kWantRead);
    return Status::kFailed;
  }
  return Flushed(Status::kDone);  // kDone only once the socket took every byte
}

void Session::SendFatalAlert(int alert) {
  mbedtls_ssl_send_alert_message(ssl_.get(), MBEDTLS_SSL_ALERT_LEVEL_FATAL,
                                 static_cast<unsigned char>(alert));
  Flush();
}

void Session::SendCloseNotify() {
  mbedtls_ssl_close_notify(ssl_.get());
  Flush();
}

}  // namespace provisiond::tls
