// server_tls.h — one worker's TLS server configuration: the server certificate and key, the
// client trust store (manufacturer CAs + the issuing CA), versions, suites, groups and the
// client-authentication mode. Not thread-safe: each worker builds its own from the same bytes,
// because mbedTLS caches EC tables inside key contexts and the DRBG is per thread.
#pragma once

#include <mbedtls/ssl.h>

#include <memory>
#include <string>
#include <vector>

#include "base/scoped.h"
#include "ca/cert.h"
#include "ca/error.h"
#include "ca/keys.h"
#include "ca/rng.h"
#include "daemon/config.h"

namespace provisiond::tls {

// The PEM text a worker builds its TLS context from (read once at start-up).
struct Material {
  std::string server_cert_pem;  // server certificate (then its chain)
  std::string server_key_pem;
  std::string ca_cert_pem;      // the issuing CA: trusted for re-enrollment only
  // Earlier CA generations still trusted for re-enrollment (daemon/ca_generations.h: the
  // previous one after `ca activate`); PEM, empty when there is none.
  std::string reenroll_ca_pem;
  std::vector<std::string> trust_pems;  // manufacturer/bootstrap CAs
};

class ServerTls {
 public:
  // kMalformed if a certificate or key does not parse, kInvalidArgument if the server key does
  // not match its certificate, kCrypto if mbedTLS refuses the configuration.
  static ca::Result<std::unique_ptr<ServerTls>> Create(const Material& material, int tls_min_minor,
                                                       ClientAuth client_auth);
  ~ServerTls();

  mbedtls_ssl_config* config() { return conf_.get(); }
  // The same configuration but accepting, in a TLS 1.3 client CertificateVerify, only the
  // signature scheme that names this curve (RFC 8446 §4.2.3), or none for a curve without an
  // offered scheme. A session
  // switches to it once it has the client's leaf (Session::RestrictCertVerifyScheme).
  const mbedtls_ssl_config* ConfigForClientCurve(mbedtls_ecp_group_id curve) const;
  ClientAuth client_auth() const { return client_auth_; }
  // True iff crt is the issuing CA or a CA generation still trusted for re-enrollment: its subject
  // (raw DER) and public key, not its exact bytes, so a re-issued copy of ca.crt at the top of a
  // chain still marks an operational certificate.
  bool IsIssuingCa(const mbedtls_x509_crt& crt) const;
  // The client trust store (manufacturer CAs, then the issuing CA), for verifying a chain
  // mbedTLS only parsed (TLS 1.3, see Session::Screened).
  mbedtls_x509_crt* trust() { return trust_->get(); }
  ca::Rng rng() { return drbg_->rng(); }

 private:
  ServerTls() = default;
  ca::Result<void> Configure(mbedtls_ssl_config* c, int tls_min_minor, const uint16_t* sig_algs);

  ClientAuth client_auth_ = ClientAuth::kRequired;
  std::unique_ptr<ca::Drbg> drbg_;
  std::unique_ptr<ca::CrtChain> server_chain_;
  std::unique_ptr<ca::PrivateKey> server_key_;
  std::unique_ptr<ca::CrtChain> trust_;  // manufacturer CAs followed by the issuing CA
  std::unique_ptr<ca::CrtChain> issuing_ca_;  // the issuing CA, then reenroll_ca_pem's
  using Config = base::Scoped<mbedtls_ssl_config, mbedtls_ssl_config_init, mbedtls_ssl_config_free>;
  Config conf_;
  Config conf_p256_;  // conf_ with sig algs ecdsa_secp256r1_sha256 only
  Config conf_p384_;  // conf_ with sig algs ecdsa_secp384r1_sha384 only
  Config conf_no_sig_;  // conf_ with no sig algs (an EC leaf on another curve)
};

// TLS alert description numbers (RFC 8446 §6) and names, for logs and for alerts we send.
const char* AlertName(int alert);

// The alert mbedTLS sends for these X.509 verification flags (ssl_tls.c's mapping), so logs can
// name what the client saw. Our verify callback folds the cases we want mapped differently
// (not-yet-valid, CA:TRUE leaf) into these flags before mbedTLS decides.
int AlertForVerifyFlags(uint32_t flags);

// "not trusted; expired" — short text for verification flags.
std::string DescribeVerifyFlags(uint32_t flags);

}  // namespace provisiond::tls
