// tls_connection.cc — mbedTLS client setup, handshake, and turning mbedTLS failures into reasons.
#include "device-sim/tls_connection.h"

#include <mbedtls/error.h>
#include <mbedtls/x509.h>

#include <cerrno>
#include <cstring>

namespace devsim {
namespace {

std::string ErrorText(int ret) {
  char buf[256];
  mbedtls_strerror(ret, buf, sizeof buf);
  return buf;
}

mbedtls_ssl_protocol_version ToMbedtls(TlsVersion version) {
  return version == TlsVersion::k12 ? MBEDTLS_SSL_VERSION_TLS1_2 : MBEDTLS_SSL_VERSION_TLS1_3;
}

bool IsRetry(int ret) {
  return ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE ||
         ret == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET;
}

}  // namespace

// mbedtls_x509_crt_verify_info prints one line per flag; the summary wants one line.
std::string VerifyFlagsText(uint32_t flags) {
  char buf[1024];
  const int n = mbedtls_x509_crt_verify_info(buf, sizeof buf, "", flags);
  std::string text(buf, n > 0 ? static_cast<size_t>(n) : 0);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  for (size_t pos; (pos = text.find('\n')) != std::string::npos;) text.replace(pos, 1, "; ");
  return text;
}

std::string AlertName(int alert) {
  switch (alert) {
    case MBEDTLS_SSL_ALERT_MSG_UNEXPECTED_MESSAGE:
      return "unexpected_message";
    case MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE:
      return "handshake_failure";
    case MBEDTLS_SSL_ALERT_MSG_BAD_CERT:
      return "bad_certificate";
    case MBEDTLS_SSL_ALERT_MSG_UNSUPPORTED_CERT:
      return "unsupported_certificate";
    case MBEDTLS_SSL_ALERT_MSG_CERT_REVOKED:
      return "certificate_revoked";
    case MBEDTLS_SSL_ALERT_MSG_CERT_EXPIRED:
      return "certificate_expired";
    case MBEDTLS_SSL_ALERT_MSG_CERT_UNKNOWN:
      return "certificate_unknown";
    case MBEDTLS_SSL_ALERT_MSG_ILLEGAL_PARAMETER:
      return "illegal_parameter";
    case MBEDTLS_SSL_ALERT_MSG_UNKNOWN_CA:
      return "unknown_ca";
    case MBEDTLS_SSL_ALERT_MSG_ACCESS_DENIED:
      return "access_denied";
    case MBEDTLS_SSL_ALERT_MSG_DECODE_ERROR:
      return "decode_error";
    case MBEDTLS_SSL_ALERT_MSG_DECRYPT_ERROR:
      return "decrypt_error";
    case MBEDTLS_SSL_ALERT_MSG_PROTOCOL_VERSION:
      return "protocol_version";
    case MBEDTLS_SSL_ALERT_MSG_INSUFFICIENT_SECURITY:
      return "insufficient_security";
    case MBEDTLS_SSL_ALERT_MSG_INTERNAL_ERROR:
      return "internal_error";
    case MBEDTLS_SSL_ALERT_MSG_MISSING_EXTENSION:
      return "missing_extension";
    case MBEDTLS_SSL_ALERT_MSG_UNRECOGNIZED_NAME:
      return "unrecognized_name";
    case MBEDTLS_SSL_ALERT_MSG_CERT_REQUIRED:
      return "certificate_required";
    case MBEDTLS_SSL_ALERT_MSG_NO_APPLICATION_PROTOCOL:
      return "no_application_protocol";
    default:
      return "alert " + std::to_string(alert);
  }
}

std::unexpected<ca::Error> TlsConnection::TlsFailure(const char* step, int ret) const {
  std::string reason = std::string("tls: ") + step + ": " + ErrorText(ret);
  if (ret == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE) {
    // mbedTLS has no accessor for the alert it received; it is still in the record buffer.
    const unsigned char* msg = ssl_->MBEDTLS_PRIVATE(in_msg);
    reason += msg != nullptr
                  ? " (fatal alert " + std::to_string(msg[1]) + " " + AlertName(msg[1]) + ")"
                  : std::string(" (fatal alert)");
  } else if (ret == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
    reason +=
        " (server certificate: " + VerifyFlagsText(mbedtls_ssl_get_verify_result(ssl_.get())) + ")";
  }
  return ca::Fail(ca::Code::kIo, std::move(reason));
}

ca::Result<std::unique_ptr<TlsConnection>> TlsConnection::Open(const TlsSettings& settings,
                                                               mbedtls_x509_crt* trust,
                                                               mbedtls_x509_crt* own_cert,
                                                               mbedtls_pk_context* own_key,
                                                               ca::Rng rng) {
  std::unique_ptr<TlsConnection> conn(new TlsConnection());
  if (auto ok = conn->Setup(settings, trust, own_cert, own_key, rng); !ok) {
    return std::unexpected(ok.error());
  }
  if (auto ok = conn->Connect(settings); !ok) return std::unexpected(ok.error());
  return conn;
}

ca::Result<void> TlsConnection::Setup(const TlsSettings& settings, mbedtls_x509_crt* trust,
                                      mbedtls_x509_crt* own_cert, mbedtls_pk_context* own_key,
                                      ca::Rng rng) {
  mbedtls_ssl_config* conf = conf_.get();
  int ret = mbedtls_ssl_config_defaults(conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                        MBEDTLS_SSL_PRESET_DEFAULT);
  if (ret != 0) return TlsFailure("config", ret);
  mbedtls_ssl_conf_min_tls_version(conf, ToMbedtls(settings.version));
  mbedtls_ssl_conf_max_tls_version(conf, ToMbedtls(settings.version));
  mbedtls_ssl_conf_authmode(conf, MBEDTLS_SSL_VERIFY_REQUIRED);
  mbedtls_ssl_conf_ca_chain(conf, trust, nullptr);
  mbedtls_ssl_conf_rng(conf, rng.fill, rng.state);
  mbedtls_ssl_conf_read_timeout(conf, settings.read_timeout_ms);
  if ((ret = mbedtls_ssl_conf_own_cert(conf, own_cert, own_key)) != 0) {
    return TlsFailure("own certificate", ret);
  }
  if ((ret = mbedtls_ssl_setup(ssl_.get(), conf)) != 0) return TlsFailure("setup", ret);
  if ((ret = mbedtls_ssl_set_hostname(ssl_.get(), settings.server_name.c_str())) != 0) {
    return TlsFailure("server name", ret);
  }
  return {};
}

ca::Result<void> TlsConnection::Connect(const TlsSettings& settings) {
  errno = 0;
  int ret = mbedtls_net_connect(net_.get(), settings.host.c_str(), settings.port.c_str(),
                                MBEDTLS_NET_PROTO_TCP);
  if (ret != 0) {
    // mbedTLS folds every connect() failure into one code; errno says which (refused, unreachable).
    const int saved_errno = errno;
    std::string reason = "connect " + settings.host + ":" + settings.port + ": " + ErrorText(ret);
    if (ret == MBEDTLS_ERR_NET_CONNECT_FAILED && saved_errno != 0) {
      reason += std::string(" (") + std::strerror(saved_errno) + ")";
    }
    return ca::Fail(ca::Code::kIo, std::move(reason));
  }
  mbedtls_ssl_set_bio(ssl_.get(), net_.get(), mbedtls_net_send, mbedtls_net_recv,
                      mbedtls_net_recv_timeout);
  while ((ret = mbedtls_ssl_handshake(ssl_.get())) != 0) {
    if (!IsRetry(ret)) return TlsFailure("handshake", ret);
  }
  return {};
}

ca::Result<void> TlsConnection::Write(std::string_view data) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  size_t done = 0;
  while (done < data.size()) {
    const int ret = mbedtls_ssl_write(ssl_.get(), bytes + done, data.size() - done);
    if (ret > 0) {
      done += static_cast<size_t>(ret);
    } else if (!IsRetry(ret)) {
      return TlsFailure("write", ret);
    }
  }
  return {};
}

ca::Result<size_t> TlsConnection::Read(std::span<char> buf) {
  while (true) {
    const int ret =
        mbedtls_ssl_read(ssl_.get(), reinterpret_cast<unsigned char*>(buf.data()), buf.size());
    if (ret >= 0) return static_cast<size_t>(ret);
    if (ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) return 0;
    if (!IsRetry(ret)) return TlsFailure("read", ret);
  }
}

void TlsConnection::Close() { mbedtls_ssl_close_notify(ssl_.get()); }

}  // namespace devsim
