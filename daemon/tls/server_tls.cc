// server_tls.cc — builds a worker's mbedTLS server configuration (see server_tls.h).
#include "daemon/tls/server_tls.h"

#include <mbedtls/ssl_ciphersuites.h>
#include <mbedtls/x509.h>

#include <utility>

namespace provisiond::tls {
namespace {

// AEAD suites with ECDHE and ECDSA only; TLS 1.3 suites are listed first.
const int kCiphersuites[] = {
    MBEDTLS_TLS1_3_AES_128_GCM_SHA256,
    MBEDTLS_TLS1_3_AES_256_GCM_SHA384,
    MBEDTLS_TLS1_3_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    0};

// X25519 first: it is what OpenSSL/curl clients send a key share for, so no HelloRetryRequest.
const uint16_t kGroups[] = {MBEDTLS_SSL_IANA_TLS_GROUP_X25519, MBEDTLS_SSL_IANA_TLS_GROUP_SECP256R1,
                            MBEDTLS_SSL_IANA_TLS_GROUP_NONE};

// Devices hold P-256 keys; ECDSA with SHA-256 is what we verify and what our key signs.
const uint16_t kSigAlgs[] = {MBEDTLS_TLS1_3_SIG_ECDSA_SECP256R1_SHA256,
                             MBEDTLS_TLS1_3_SIG_ECDSA_SECP384R1_SHA384,
                             MBEDTLS_TLS1_3_SIG_NONE};
// After the client's leaf is known (TLS 1.3, Session::RestrictCertVerifyScheme): its curve's.
const uint16_t kSigAlgsP256[] = {MBEDTLS_TLS1_3_SIG_ECDSA_SECP256R1_SHA256,
                                 MBEDTLS_TLS1_3_SIG_NONE};
const uint16_t kSigAlgsP384[] = {MBEDTLS_TLS1_3_SIG_ECDSA_SECP384R1_SHA384,
                                 MBEDTLS_TLS1_3_SIG_NONE};
const uint16_t kSigAlgsNone[] = {MBEDTLS_TLS1_3_SIG_NONE};

// Called once the ClientHello is processed, when the version is known. In TLS 1.3 mbedTLS sends
// a client-authentication alert under its handshake keys although it has already sent its
// Finished, so an OpenSSL client (already on the server's application keys) sees only
// "bad record mac". Letting the TLS 1.3 handshake finish and sending the alert ourselves (see
// Session::Classify) puts certificate_required / unknown_ca / ... on the wire under the keys the
// client expects, at the point RFC 8446 puts it: after the client's Finished. TLS 1.2 keeps
// mbedTLS's in-handshake alerts.
int DeferTls13ClientAuth(mbedtls_ssl_context* ssl) {
  if (mbedtls_ssl_get_version_number(ssl) == MBEDTLS_SSL_VERSION_TLS1_3) {
    mbedtls_ssl_set_hs_authmode(ssl, MBEDTLS_SSL_VERIFY_OPTIONAL);
  }
  return 0;
}

}  // namespace

ServerTls::~ServerTls() = default;

ca::Result<std::unique_ptr<ServerTls>> ServerTls::Create(const Material& material,
                                                         int tls_min_minor,
                                                         ClientAuth client_auth) {
  std::unique_ptr<ServerTls> tls(new ServerTls());
  tls->client_auth_ = client_auth;
  auto drbg = ca::Drbg::FromSystemEntropy();
  if (!drbg) return std::unexpected(drbg.error());
  tls->drbg_ = std::move(*drbg);

  auto chain = ca::ParseCertificates(material.server_cert_pem);
  if (!chain) return std::unexpected(chain.error());
  tls->server_chain_ = std::move(*chain);
  auto key = ca::PrivateKey::Parse(material.server_key_pem, tls->drbg_->rng());
  if (!key) return std::unexpected(key.error());
  tls->server_key_ = std::move(*key);
  int ret = mbedtls_pk_check_pair(&tls->server_chain_->get()->pk, tls->server_key_->pk(),
                                  tls->drbg_->rng().fill, tls->drbg_->rng().state);
  if (ret != 0) {
    return ca::Fail(ca::Code::kInvalidArgument, "server key does not match server certificate");
  }

  tls->trust_ = std::make_unique<ca::CrtChain>();
  for (const auto& pem : material.trust_pems) {
    if (auto r = ca::AppendCertificates(*tls->trust_, pem); !r) return std::unexpected(r.error());
  }
  const std::string issuing_pems = material.ca_cert_pem + material.reenroll_ca_pem;
  if (auto r = ca::AppendCertificates(*tls->trust_, issuing_pems); !r) {
    return std::unexpected(r.error());
  }
  auto issuing = ca::ParseCertificates(issuing_pems);
  if (!issuing) return std::unexpected(issuing.error());
  tls->issuing_ca_ = std::move(*issuing);

  const std::pair<mbedtls_ssl_config*, const uint16_t*> configs[] = {
      {tls->conf_.get(), kSigAlgs},
      {tls->conf_p256_.get(), kSigAlgsP256},
      {tls->conf_p384_.get(), kSigAlgsP384},
      {tls->conf_no_sig_.get(), kSigAlgsNone}};
  for (const auto& [conf, sig_algs] : configs) {
    if (auto r = tls->Configure(conf, tls_min_minor, sig_algs); !r) {
      return std::unexpected(r.error());
    }
  }
  return tls;
}

ca::Result<void> ServerTls::Configure(mbedtls_ssl_config* c, int tls_min_minor,
                                      const uint16_t* sig_algs) {
  int ret = mbedtls_ssl_config_defaults(c, MBEDTLS_SSL_IS_SERVER, MBEDTLS_SSL_TRANSPORT_STREAM,
                                        MBEDTLS_SSL_PRESET_DEFAULT);
  if (ret != 0) return ca::Fail(ca::Code::kCrypto, ca::MbedtlsError("ssl_config_defaults", ret));
  mbedtls_ssl_conf_min_tls_version(
      c, tls_min_minor >= 3 ? MBEDTLS_SSL_VERSION_TLS1_3 : MBEDTLS_SSL_VERSION_TLS1_2);
  mbedtls_ssl_conf_max_tls_version(c, MBEDTLS_SSL_VERSION_TLS1_3);
  mbedtls_ssl_conf_ciphersuites(c, kCiphersuites);
  mbedtls_ssl_conf_groups(c, kGroups);
  mbedtls_ssl_conf_sig_algs(c, sig_algs);
  mbedtls_ssl_conf_tls13_key_exchange_modes(c, MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_EPHEMERAL);
  mbedtls_ssl_conf_renegotiation(c, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
  mbedtls_ssl_conf_rng(c, drbg_->rng().fill, drbg_->rng().state);
  // Required: mbedTLS aborts the handshake with the alert for the failure. Optional: the
  // handshake completes and the connection layer decides (a presented certificate must verify).
  mbedtls_ssl_conf_authmode(c, client_auth_ == ClientAuth::kRequired
                                   ? MBEDTLS_SSL_VERIFY_REQUIRED
                                   : MBEDTLS_SSL_VERIFY_OPTIONAL);
  if (client_auth_ == ClientAuth::kRequired) mbedtls_ssl_conf_cert_cb(c, DeferTls13ClientAuth);
  mbedtls_ssl_conf_ca_chain(c, trust_->get(), nullptr);
  ret = mbedtls_ssl_conf_own_cert(c, server_chain_->get(), server_key_->pk());
  if (ret != 0) return ca::Fail(ca::Code::kCrypto, ca::MbedtlsError("ssl_conf_own_cert", ret));
  return {};
}

const mbedtls_ssl_config* ServerTls::ConfigForClientCurve(mbedtls_ecp_group_id curve) const {
  if (curve == MBEDTLS_ECP_DP_SECP256R1) return conf_p256_.get();
  if (curve == MBEDTLS_ECP_DP_SECP384R1) return conf_p384_.get();
  return conf_no_sig_.get();
}

bool ServerTls::IsIssuingCa(const mbedtls_x509_crt& crt) const {
  for (const mbedtls_x509_crt* ca = issuing_ca_->get(); ca != nullptr; ca = ca->next) {
    if (ca->raw.len != 0 && ca::SameSubject(crt, *ca) && ca::SameKey(crt, *ca)) return true;
  }
  return false;
}

const char* AlertName(int alert) {
  switch (alert) {
    case MBEDTLS_SSL_ALERT_MSG_BAD_RECORD_MAC: return "bad_record_mac";
    case MBEDTLS_SSL_ALERT_MSG_RECORD_OVERFLOW: return "record_overflow";
    case MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE: return "handshake_failure";
    case MBEDTLS_SSL_ALERT_MSG_BAD_CERT: return "bad_certificate";
    case MBEDTLS_SSL_ALERT_MSG_UNSUPPORTED_CERT: return "unsupported_certificate";
    case MBEDTLS_SSL_ALERT_MSG_CERT_REVOKED: return "certificate_revoked";
    case MBEDTLS_SSL_ALERT_MSG_CERT_EXPIRED: return "certificate_expired";
    case MBEDTLS_SSL_ALERT_MSG_CERT_UNKNOWN: return "certificate_unknown";
    case MBEDTLS_SSL_ALERT_MSG_UNKNOWN_CA: return "unknown_ca";
    case MBEDTLS_SSL_ALERT_MSG_ACCESS_DENIED: return "access_denied";
    case MBEDTLS_SSL_ALERT_MSG_DECODE_ERROR: return "decode_error";
    case MBEDTLS_SSL_ALERT_MSG_PROTOCOL_VERSION: return "protocol_version";
    case MBEDTLS_SSL_ALERT_MSG_INTERNAL_ERROR: return "internal_error";
    case MBEDTLS_SSL_ALERT_MSG_CERT_REQUIRED: return "certificate_required";
    case MBEDTLS_SSL_ALERT_MSG_ILLEGAL_PARAMETER: return "illegal_parameter";
    case MBEDTLS_SSL_ALERT_MSG_DECRYPT_ERROR: return "decrypt_error";
    case MBEDTLS_SSL_ALERT_MSG_MISSING_EXTENSION: return "missing_extension";
    case MBEDTLS_SSL_ALERT_MSG_UNSUPPORTED_EXT: return "unsupported_extension";
    case MBEDTLS_SSL_ALERT_MSG_NO_APPLICATION_PROTOCOL: return "no_application_protocol";
    case MBEDTLS_SSL_ALERT_MSG_UNEXPECTED_MESSAGE: return "unexpected_message";
    case MBEDTLS_SSL_ALERT_MSG_INSUFFICIENT_SECURITY: return "insufficient_security";
    default: return "unknown";
  }
}

int AlertForVerifyFlags(uint32_t flags) {
  if (flags & MBEDTLS_X509_BADCERT_OTHER) return MBEDTLS_SSL_ALERT_MSG_ACCESS_DENIED;
  if (flags & MBEDTLS_X509_BADCERT_CN_MISMATCH) return MBEDTLS_SSL_ALERT_MSG_BAD_CERT;
  if (flags & (MBEDTLS_X509_BADCERT_KEY_USAGE | MBEDTLS_X509_BADCERT_EXT_KEY_USAGE |
               MBEDTLS_X509_BADCERT_NS_CERT_TYPE | MBEDTLS_X509_BADCERT_BAD_PK |
               MBEDTLS_X509_BADCERT_BAD_KEY)) {
    return MBEDTLS_SSL_ALERT_MSG_UNSUPPORTED_CERT;
  }
  if (flags & MBEDTLS_X509_BADCERT_EXPIRED) return MBEDTLS_SSL_ALERT_MSG_CERT_EXPIRED;
  if (flags & MBEDTLS_X509_BADCERT_REVOKED) return MBEDTLS_SSL_ALERT_MSG_CERT_REVOKED;
  if (flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED) return MBEDTLS_SSL_ALERT_MSG_UNKNOWN_CA;
  return MBEDTLS_SSL_ALERT_MSG_CERT_UNKNOWN;
}

std::string DescribeVerifyFlags(uint32_t flags) {
  static const struct {
    uint32_t flag;
    const char* text;
  } kNames[] = {
      {MBEDTLS_X509_BADCERT_EXPIRED, "expired"},
      {MBEDTLS_X509_BADCERT_FUTURE, "not yet valid"},
      {MBEDTLS_X509_BADCERT_REVOKED, "revoked"},
      {MBEDTLS_X509_BADCERT_NOT_TRUSTED, "not trusted"},
      {MBEDTLS_X509_BADCERT_KEY_USAGE, "key usage or CA leaf"},
      {MBEDTLS_X509_BADCERT_EXT_KEY_USAGE, "extended key usage excludes clientAuth"},
      {MBEDTLS_X509_BADCERT_BAD_MD, "weak hash"},
      {MBEDTLS_X509_BADCERT_BAD_PK, "disallowed key algorithm"},
      {MBEDTLS_X509_BADCERT_BAD_KEY, "weak key"},
      {MBEDTLS_X509_BADCERT_MISSING, "no certificate"},
      {MBEDTLS_X509_BADCERT_SKIP_VERIFY, "verification skipped"},
      {MBEDTLS_X509_BADCERT_OTHER, "other"},
  };
  // Our verify callback adds EXPIRED to FUTURE to choose the alert; the text says what it was.
  if (flags & MBEDTLS_X509_BADCERT_FUTURE) flags &= ~MBEDTLS_X509_BADCERT_EXPIRED;
  std::string out;
  for (const auto& n : kNames) {
    if (flags & n.flag) out += (out.empty() ? "" : "; ") + std::string(n.text);
  }
  return out.empty() ? "ok" : out;
}

}  // namespace provisiond::tls
