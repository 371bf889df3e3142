// alerts.cc — Session's handling of fatal alerts during the handshake: which one the client gets,
// under which keys, and which one the log names (docs/security.md, "Attacker review (issue #12)").
#define MBEDTLS_ALLOW_PRIVATE_ACCESS  // ssl->state, transform_out, out_msgtype, alert_type, conf
#include <mbedtls/net_sockets.h>

#include "daemon/tls/session.h"

// Exported by libmbedtls (library/ssl_misc.h, not installed): installs a transform for outgoing
// records and resets their sequence number, as the TLS 1.3 handshake wrap-up does.
extern "C" void mbedtls_ssl_set_outbound_transform(mbedtls_ssl_context* ssl,
                                                   mbedtls_ssl_transform* transform);

namespace provisiond::tls {
namespace {

constexpr size_t kRecordHeader = 5;

bool IsTls13(const mbedtls_ssl_context* ssl) {
  return mbedtls_ssl_get_version_number(ssl) == MBEDTLS_SSL_VERSION_TLS1_3;
}

// The alert for an mbedTLS error when mbedTLS queued none (or queued one we could not read):
// RFC 8446 §6.2's alert for that kind of failure. 0 for failures that get no alert: the peer
// left, reset the connection or sent its own fatal alert.
int AlertForError(int ret) {
  switch (ret) {
    case MBEDTLS_ERR_SSL_CONN_EOF:
    case MBEDTLS_ERR_NET_CONN_RESET:
    case MBEDTLS_ERR_NET_RECV_FAILED:
    case MBEDTLS_ERR_NET_SEND_FAILED:
    case MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE:
    case MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY:
      return 0;
    case MBEDTLS_ERR_SSL_INVALID_MAC: return MBEDTLS_SSL_ALERT_MSG_BAD_RECORD_MAC;
    case MBEDTLS_ERR_SSL_DECODE_ERROR: return MBEDTLS_SSL_ALERT_MSG_DECODE_ERROR;
    case MBEDTLS_ERR_SSL_INVALID_RECORD: return MBEDTLS_SSL_ALERT_MSG_DECODE_ERROR;
    case MBEDTLS_ERR_SSL_ILLEGAL_PARAMETER: return MBEDTLS_SSL_ALERT_MSG_ILLEGAL_PARAMETER;
    case MBEDTLS_ERR_SSL_UNEXPECTED_MESSAGE: return MBEDTLS_SSL_ALERT_MSG_UNEXPECTED_MESSAGE;
    case MBEDTLS_ERR_SSL_BAD_PROTOCOL_VERSION: return MBEDTLS_SSL_ALERT_MSG_PROTOCOL_VERSION;
    case MBEDTLS_ERR_SSL_BAD_CERTIFICATE: return MBEDTLS_SSL_ALERT_MSG_BAD_CERT;
    case MBEDTLS_ERR_SSL_UNSUPPORTED_EXTENSION: return MBEDTLS_SSL_ALERT_MSG_UNSUPPORTED_EXT;
    case MBEDTLS_ERR_SSL_NO_APPLICATION_PROTOCOL:
      return MBEDTLS_SSL_ALERT_MSG_NO_APPLICATION_PROTOCOL;
    case MBEDTLS_ERR_SSL_HANDSHAKE_FAILURE:
    case MBEDTLS_ERR_SSL_FEATURE_UNAVAILABLE:
      return MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE;
    default:
      // An ECP error (-0x4B00 .. -0x4F80) while using the peer's values (a share that is not a
      // point on the curve): the parameter was bad. Anything else is our own failure.
      if (ret <= -0x4B00 && ret >= -0x4F80) return MBEDTLS_SSL_ALERT_MSG_ILLEGAL_PARAMETER;
      return MBEDTLS_SSL_ALERT_MSG_INTERNAL_ERROR;
  }
}

// TLS 1.3 server states after its Finished was written, before the client's Finished arrived.
bool AwaitsClientSecondFlight(const mbedtls_ssl_context* ssl) {
  return ssl->state == MBEDTLS_SSL_CLIENT_CERTIFICATE ||
         ssl->state == MBEDTLS_SSL_CLIENT_CERTIFICATE_VERIFY ||
         ssl->state == MBEDTLS_SSL_CLIENT_FINISHED;
}

// AlertForError, refined by where the handshake stopped.
int AlertForFailedStep(const mbedtls_ssl_context* ssl, int ret) {
  // The peer left, reset the connection or sent its own alert: nothing to answer, whatever the
  // state (a reset right after a TLS 1.2 CertificateVerify is not a bad signature).
  if (AlertForError(ret) == 0) return 0;
  // A key share that is not a valid point or key (all-zero X25519, wrong length): PSA's
  // INVALID_ARGUMENT, which mbedTLS returns as BAD_INPUT_DATA, while writing its ServerHello.
  if (ret == MBEDTLS_ERR_SSL_BAD_INPUT_DATA && ssl->state == MBEDTLS_SSL_SERVER_HELLO) {
    return MBEDTLS_SSL_ALERT_MSG_ILLEGAL_PARAMETER;
  }
  // A ClientHello larger than the 16 KiB input buffer ("requesting more data than fits").
  if (ret == MBEDTLS_ERR_SSL_BAD_INPUT_DATA && ssl->state == MBEDTLS_SSL_CLIENT_HELLO) {
    return MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE;
  }
  // TLS 1.2: the client's CertificateVerify signature did not verify (mbedtls_pk_verify's error
  // is returned as is, the state already moved on to ChangeCipherSpec): decrypt_error
  // (RFC 5246 §7.2.2). Nothing else in these states returns a crypto-layer error.
  if (!IsTls13(ssl) && ret > -0x5000 &&
      (ssl->state == MBEDTLS_SSL_CERTIFICATE_VERIFY ||
       ssl->state == MBEDTLS_SSL_CLIENT_CHANGE_CIPHER_SPEC)) {
    return MBEDTLS_SSL_ALERT_MSG_DECRYPT_ERROR;
  }
  return AlertForError(ret);
}

}  // namespace

void Session::NoteSentRecord(const unsigned char* buf, size_t len) {
  const mbedtls_ssl_context* ssl = ssl_.get();
  const bool encrypted = ssl->transform_out != nullptr;
  // TLS 1.3 hides the content type, but once UseApplicationKeysAfterServerFinished switched the
  // keys (after the whole server flight went through Send) and until the client's Finished, the
  // server writes nothing except an alert.
  const bool tls13_alert = encrypted && IsTls13(ssl) && AwaitsClientSecondFlight(ssl) &&
                           ssl->transform_out == ssl->transform_application;
  if (ssl->out_msgtype != MBEDTLS_SSL_MSG_ALERT && !tls13_alert) return;
  if (!encrypted) {
    // In the clear: the record says which alert (header, then level and description).
    if (len >= kRecordHeader + 2 && buf[kRecordHeader] == MBEDTLS_SSL_ALERT_LEVEL_FATAL) {
      sent_alert_ = buf[kRecordHeader + 1];
    }
    return;
  }
  // Encrypted: a pending alert (MBEDTLS_SSL_PEND_FATAL_ALERT) is still flagged while it is sent;
  // an alert mbedTLS sends directly is resolved from its error code in AlertForFailure.
  sent_alert_ = ssl->send_alert != 0 ? ssl->alert_type : kAlertEncrypted;
}

// RFC 8446 §4.4.4: records after the server's Finished, alerts included, go under the server
// application traffic keys. mbedTLS computes those keys when it writes its Finished but keeps
// sending under the handshake keys until the client's Finished, so its alerts about the client's
// second flight (a bad CertificateVerify or Finished, a record that does not decrypt) reach the
// client as undecryptable records. The server sends nothing else before the client's Finished,
// so switching the outbound keys as soon as its Finished is queued changes only those alerts;
// the handshake wrap-up installs the same keys again (sequence number 0, nothing sent yet).
void Session::UseApplicationKeysAfterServerFinished() {
  mbedtls_ssl_context* ssl = ssl_.get();
  if (ssl->transform_application == nullptr || ssl->transform_out == ssl->transform_application ||
      ssl->out_left != 0 || !IsTls13(ssl) || !AwaitsClientSecondFlight(ssl)) {
    return;
  }
  mbedtls_ssl_set_outbound_transform(ssl, ssl->transform_application);
}

// mbedtls_ssl_handshake's loop, one step at a time, so that between two steps the session can
// (1) move its outbound records to the application keys once its Finished is queued and (2) in
// TLS 1.3 restrict the CertificateVerify scheme to the leaf's curve as soon as the client's
// Certificate is parsed: when mbedTLS only parses the chain (hs authmode NONE, session_chain.cc)
// the verify callback does not run during the handshake, so the leaf is taken from the session.
int Session::StepHandshake() {
  mbedtls_ssl_context* ssl = ssl_.get();
  int ret = 0;
  while (ssl->state != MBEDTLS_SSL_HANDSHAKE_OVER) {
    ret = mbedtls_ssl_handshake_step(ssl);
    UseApplicationKeysAfterServerFinished();
    if (IsTls13(ssl) && ssl->state == MBEDTLS_SSL_CLIENT_CERTIFICATE_VERIFY &&
        ssl->session_negotiate != nullptr && ssl->session_negotiate->peer_cert != nullptr) {
      RestrictCertVerifyScheme(*ssl->session_negotiate->peer_cert);
    }
    if (ret != 0) break;
  }
  return ret;
}

// Every byte handed to mbedTLS goes through the record screen: a record header announcing more
// than RFC 8446 §5.1/§5.2 (RFC 5246 §6.2 for TLS 1.2) allows is refused before mbedTLS reads it,
// so the client gets record_overflow (FailHandshake, Read) instead of bad_record_mac.
int Session::LengthScreened(const unsigned char* buf, int got) {
  if (got <= 0 || record_overflow_) return record_overflow_ ? MBEDTLS_ERR_SSL_INVALID_RECORD : got;
  const mbedtls_ssl_context* ssl = ssl_.get();
  const size_t limit = ssl->transform_in == nullptr ? RecordScreen::kMaxPlaintext
                       : IsTls13(ssl)              ? RecordScreen::kMaxTls13Ciphertext
                                                   : RecordScreen::kMaxTls12Ciphertext;
  if (record_screen_.Feed(std::span(buf, static_cast<size_t>(got)), limit)) return got;
  record_overflow_ = true;
  return MBEDTLS_ERR_SSL_INVALID_RECORD;
}

int Session::AlertForFailure(int ret, int chosen) {
  if (sent_alert_ > 0) return sent_alert_;  // read off the record or mbedTLS's pending alert
  if (sent_alert_ == kAlertEncrypted) {
    // mbedTLS's direct sends under encryption: bad_record_mac, unexpected_message, decode_error,
    // and a TLS 1.2 Finished that does not verify (decrypt_error, returned as HANDSHAKE_FAILURE).
    if (chosen != 0) return chosen;
    if (ret == MBEDTLS_ERR_SSL_HANDSHAKE_FAILURE) return MBEDTLS_SSL_ALERT_MSG_DECRYPT_ERROR;
    return AlertForFailedStep(ssl_.get(), ret);
  }
  // mbedTLS closed without an alert: send the one RFC 8446 §6.2 names for the failure.
  int alert = chosen != 0 ? chosen : AlertForFailedStep(ssl_.get(), ret);
  if (alert != 0 && !send_failed_) {
    // A record mbedTLS built but did not get to send (the ServerHello, when the client's key
    // share fails in the key agreement after it) would go first and leave the alert unsent;
    // the handshake has failed, so it is dropped and the alert is the whole reply.
    ssl_.get()->out_left = 0;
    SendFatalAlert(alert);
    return sent_alert_ != 0 ? alert : 0;  // encrypted, NoteSentRecord saw kAlertEncrypted
  }
  return 0;
}

// mbedTLS checks that a client CertificateVerify's scheme was offered and is ECDSA for an EC
// key, not that its curve is the key's (RFC 8446 §4.2.3: "ecdsa_secp256r1_sha256" means P-256).
// Once the leaf is known, the session continues on a configuration offering only the scheme of
// the leaf's curve (identical otherwise, ServerTls::ConfigForClientCurve), so mbedTLS refuses
// any other with decrypt_error. Nothing else in the handshake reads the list after this point:
// the server's own CertificateVerify and the CertificateRequest are already sent.
void Session::RestrictCertVerifyScheme(const mbedtls_x509_crt& leaf) {
  mbedtls_ssl_context* ssl = ssl_.get();
  if (!IsTls13(ssl) || !mbedtls_pk_can_do(&leaf.pk, MBEDTLS_PK_ECDSA)) return;
  const mbedtls_ecp_group_id curve = mbedtls_ecp_keypair_get_group_id(mbedtls_pk_ec(leaf.pk));
  ssl->conf = tls_.ConfigForClientCurve(curve);
}

}  // namespace provisiond::tls
