// client_chain.cc — screening a client's certificate chain before it costs CPU (see
// client_chain.h).
#include "daemon/tls/client_chain.h"

#include <mbedtls/oid.h>

#include <algorithm>
#include <vector>

namespace provisiond::tls {
namespace {

constexpr unsigned char kHandshakeRecord = 22;
constexpr unsigned char kCertificateMessage = 11;
// RFC 5246 §6.2.1: a plaintext record carries at most 2^14 bytes.
constexpr size_t kMaxPlaintextRecord = 16384;

size_t Uint24(const unsigned char* p) {
  return (static_cast<size_t>(p[0]) << 16) | (static_cast<size_t>(p[1]) << 8) | p[2];
}

}  // namespace

int AlertForChainRefusal(const ca::Error& error) {
  return error.code == ca::Code::kUnsupportedKey ? MBEDTLS_SSL_ALERT_MSG_UNSUPPORTED_CERT
                                                 : MBEDTLS_SSL_ALERT_MSG_BAD_CERT;
}

std::string ScreenTls12CertificateBody(std::span<const unsigned char> body,
                                       const ca::ChainLimits& limits, int* alert) {
  *alert = MBEDTLS_SSL_ALERT_MSG_BAD_CERT;
  if (body.size() < 3 || Uint24(body.data()) != body.size() - 3) {
    return "malformed Certificate message";
  }
  std::vector<std::span<const unsigned char>> ders;
  size_t at = 3;
  while (at < body.size()) {
    if (body.size() - at < 3) return "malformed Certificate message";
    const size_t len = Uint24(body.data() + at);
    at += 3;
    if (len == 0 || len > body.size() - at) return "malformed Certificate message";
    if (ders.size() == limits.max_certs) {
      return "chain of more than " + std::to_string(limits.max_certs) + " certificates";
    }
    ders.push_back(body.subspan(at, len));
    at += len;
  }
  auto screened = ca::ScreenDerChain(ders, limits);
  if (screened) return {};
  *alert = AlertForChainRefusal(screened.error());
  return screened.error().detail;
}

Tls12ChainScreen::Verdict Tls12ChainScreen::Refuse(std::string reason, int alert) {
  reason_ = std::move(reason);
  alert_ = alert;
  verdict_ = Verdict::kRefuse;
  std::string().swap(message_);
  return verdict_;
}

Tls12ChainScreen::Verdict Tls12ChainScreen::Feed(std::span<const unsigned char> bytes) {
  while (!bytes.empty() && verdict_ == Verdict::kMore) {
    if (header_got_ < sizeof header_) {
      size_t take = std::min(bytes.size(), sizeof header_ - header_got_);
      std::copy_n(bytes.begin(), take, header_ + header_got_);
      header_got_ += take;
      bytes = bytes.subspan(take);
      if (header_got_ < sizeof header_) break;
      body_left_ = (static_cast<size_t>(header_[3]) << 8) | header_[4];
      handshake_body_ = header_[0] == kHandshakeRecord;
      if (body_left_ > kMaxPlaintextRecord) {
        Refuse("record of " + std::to_string(body_left_) + " bytes",
               MBEDTLS_SSL_ALERT_MSG_DECODE_ERROR);
        break;
      }
      if (body_left_ == 0) header_got_ = 0;
      continue;
    }
    size_t take = std::min(bytes.size(), body_left_);
    if (handshake_body_) TakeHandshakeBytes(bytes.first(take));
    bytes = bytes.subspan(take);
    body_left_ -= take;
    if (body_left_ == 0) header_got_ = 0;  // the next record's header follows
  }
  return verdict_;
}

void Tls12ChainScreen::TakeHandshakeBytes(std::span<const unsigned char> bytes) {
  while (!bytes.empty() && verdict_ == Verdict::kMore) {
    if (message_.size() < 4) {
      message_.push_back(static_cast<char>(bytes.front()));
      bytes = bytes.subspan(1);
      if (message_.size() < 4) continue;
      const auto* h = reinterpret_cast<const unsigned char*>(message_.data());
      if (h[0] != kCertificateMessage) {
        verdict_ = Verdict::kPass;  // mbedTLS refuses the unexpected message; nothing to verify
        return;
      }
      // The list: its 3-byte length, then per certificate a 3-byte length and the DER.
      const size_t most = 3 + limits_.max_total_bytes + 3 * limits_.max_certs;
      if (Uint24(h + 1) > most) {
        Refuse("Certificate message of " + std::to_string(Uint24(h + 1)) +
                   " bytes (a chain within the limits takes at most " + std::to_string(most) + ")",
               MBEDTLS_SSL_ALERT_MSG_BAD_CERT);
        return;
      }
    }
    const auto* h = reinterpret_cast<const unsigned char*>(message_.data());
    const size_t want = 4 + Uint24(h + 1) - message_.size();
    const size_t take = std::min(want, bytes.size());
    message_.append(reinterpret_cast<const char*>(bytes.data()), take);
    bytes = bytes.subspan(take);
    if (take == want) Decide();
  }
}

void Tls12ChainScreen::Decide() {
  const auto* p = reinterpret_cast<const unsigned char*>(message_.data());
  int alert = 0;
  std::string reason =
      ScreenTls12CertificateBody(std::span(p + 4, message_.size() - 4), limits_, &alert);
  if (!reason.empty()) {
    Refuse(std::move(reason), alert);
    return;
  }
  verdict_ = Verdict::kPass;
  std::string().swap(message_);
}

uint32_t VerifyClientChain(mbedtls_x509_crt& chain, mbedtls_x509_crt* trust,
                           int (*f_vrfy)(void*, mbedtls_x509_crt*, int, uint32_t*), void* p_vrfy) {
  uint32_t flags = 0;
  int ret = mbedtls_x509_crt_verify_with_profile(&chain, trust, nullptr,
                                                 &mbedtls_x509_crt_profile_default, nullptr,
                                                 &flags, f_vrfy, p_vrfy);
  if (ret != 0 && flags == 0) flags = MBEDTLS_X509_BADCERT_OTHER;  // a fatal error, not a flag
  // mbedtls_ssl_check_cert_usage for a client certificate (TLS 1.3: signatures only).
  if (mbedtls_x509_crt_check_key_usage(&chain, MBEDTLS_X509_KU_DIGITAL_SIGNATURE) != 0) {
    flags |= MBEDTLS_X509_BADCERT_KEY_USAGE;
  }
  if (mbedtls_x509_crt_check_extended_key_usage(
          &chain, MBEDTLS_OID_CLIENT_AUTH, MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH)) != 0) {
    flags |= MBEDTLS_X509_BADCERT_EXT_KEY_USAGE;
  }
  return flags;
}

}  // namespace provisiond::tls
