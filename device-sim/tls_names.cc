// tls_names.cc — alert names and one-line mbedTLS texts (see tls_names.h).
#include "device-sim/tls_names.h"

#include <mbedtls/error.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

namespace devsim {

const char* TlsVersionName(TlsVersion version) {
  return version == TlsVersion::k12 ? "1.2" : "1.3";
}

const char* KeyShareName(KeyShare share) {
  return share == KeyShare::kSecp256r1 ? "secp256r1" : "x25519";
}

const uint16_t* GroupList(KeyShare share) {
  static const uint16_t kP256First[] = {MBEDTLS_SSL_IANA_TLS_GROUP_SECP256R1,
                                        MBEDTLS_SSL_IANA_TLS_GROUP_X25519,
                                        MBEDTLS_SSL_IANA_TLS_GROUP_NONE};
  static const uint16_t kX25519First[] = {MBEDTLS_SSL_IANA_TLS_GROUP_X25519,
                                          MBEDTLS_SSL_IANA_TLS_GROUP_SECP256R1,
                                          MBEDTLS_SSL_IANA_TLS_GROUP_NONE};
  return share == KeyShare::kSecp256r1 ? kP256First : kX25519First;
}

std::string AlertName(int alert) {
  switch (alert) {
    case MBEDTLS_SSL_ALERT_MSG_CLOSE_NOTIFY:
      return "close_notify";
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

std::string MbedtlsText(int ret) {
  char buf[256];
  mbedtls_strerror(ret, buf, sizeof buf);
  return buf;
}

std::string VerifyFlagsText(uint32_t flags) {
  char buf[1024];
  const int n = mbedtls_x509_crt_verify_info(buf, sizeof buf, "", flags);
  std::string text(buf, n > 0 ? static_cast<size_t>(n) : 0);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  for (size_t pos; (pos = text.find('\n')) != std::string::npos;) text.replace(pos, 1, "; ");
  return text;
}

}  // namespace devsim
