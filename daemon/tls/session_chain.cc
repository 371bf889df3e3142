// session_chain.cc — the Session's part of bounding a client chain's cost (see session.h's
// Screened and client_chain.h).
#define MBEDTLS_ALLOW_PRIVATE_ACCESS  // ssl_context.state: no public getter in mbedTLS 3.6
#include <span>

#include "daemon/tls/session.h"

namespace provisiond::tls {

int Session::Screened(const unsigned char* buf, int got) {
  mbedtls_ssl_context* ssl = ssl_.get();
  if (got <= 0 || ssl->MBEDTLS_PRIVATE(state) != MBEDTLS_SSL_CLIENT_CERTIFICATE) return got;
  if (mbedtls_ssl_get_version_number(ssl) == MBEDTLS_SSL_VERSION_TLS1_3) {
    // Encrypted: the chain is screened once mbedTLS parsed it (VerifyPresentedChain). The
    // CertificateRequest already went out, so NONE only stops the verification in
    // ssl_tls13_validate_certificate; the CertificateVerify is still checked with the leaf key.
    tls13_certificate_bytes_ += static_cast<size_t>(got);
    if (!verify_after_handshake_ && tls13_certificate_bytes_ > kTls13SmallCertificateBytes) {
      mbedtls_ssl_set_hs_authmode(ssl, MBEDTLS_SSL_VERIFY_NONE);
      verify_after_handshake_ = true;
    }
    return got;
  }
  // TLS 1.2: plaintext, and mbedTLS parses and verifies the chain as soon as the message is whole,
  // so it is screened here, before mbedTLS sees its last byte.
  if (!tls12_screen_) tls12_screen_.emplace();
  auto verdict = tls12_screen_->Feed(std::span(buf, static_cast<size_t>(got)));
  if (verdict != Tls12ChainScreen::Verdict::kRefuse) return got;
  chain_refusal_ = {"client certificate chain refused: " + tls12_screen_->reason(),
                    tls12_screen_->alert()};
  return MBEDTLS_ERR_SSL_BAD_CERTIFICATE;
}

std::string Session::VerifyPresentedChain(const mbedtls_x509_crt& crt, int* alert) {
  // Screened in TLS 1.2 too (already once, from the message): one rule for both versions.
  if (auto screened = ca::ScreenChain(crt, ca::kClientChainLimits); !screened) {
    *alert = AlertForChainRefusal(screened.error());
    return "client certificate chain refused: " + screened.error().detail;
  }
  if (verify_after_handshake_) {
    // mbedtls_x509_crt_verify takes a mutable chain but does not change it.
    verify_flags_ |= VerifyClientChain(const_cast<mbedtls_x509_crt&>(crt), tls_.trust(),
                                       &Session::VerifyCallback, this);
  }
  return {};
}

}  // namespace provisiond::tls
