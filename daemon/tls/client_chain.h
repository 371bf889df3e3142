// client_chain.h — bounding the CPU a client's certificate chain can cost before the client is
// authenticated (issue #12): a screen of the TLS 1.2 Certificate message as its plaintext
// records pass to mbedTLS, and the verification of a TLS 1.3 chain mbedTLS only parsed.
#pragma once

#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include <cstdint>
#include <span>
#include <string>

#include "ca/chain_limits.h"

namespace provisiond::tls {

// Fed, in order, every byte mbedTLS reads from the socket while it waits for the client's
// Certificate message in TLS 1.2 (plaintext). It follows the record layer (5-byte headers,
// lengths checked), joins handshake-record bodies, and once the first handshake message is
// complete decides: kPass (not a Certificate message, or one whose chain is within
// ca::ScreenDerChain's limits) or kRefuse (error() and alert() say why). A Certificate
// message longer than the limits allow is refused as soon as its header arrives, so at most
// ~12 KiB is ever kept. Other record types (an alert, a ChangeCipherSpec) are skipped.
class Tls12ChainScreen {
 public:
  enum class Verdict { kMore, kPass, kRefuse };
  explicit Tls12ChainScreen(const ca::ChainLimits& limits = ca::kClientChainLimits)
      : limits_(limits) {}

  Verdict Feed(std::span<const unsigned char> bytes);
  Verdict verdict() const { return verdict_; }
  const std::string& reason() const { return reason_; }
  // bad_certificate (42) for a malformed list or one over the count/size limits,
  // unsupported_certificate (43) for a key outside our trust model.
  int alert() const { return alert_; }

 private:
  // Bytes of a handshake record's body: appended to message_ until the first message is whole.
  void TakeHandshakeBytes(std::span<const unsigned char> bytes);
  void Decide();
  Verdict Refuse(std::string reason, int alert);

  ca::ChainLimits limits_;
  Verdict verdict_ = Verdict::kMore;
  std::string reason_;
  int alert_ = 0;
  unsigned char header_[5] = {};
  size_t header_got_ = 0;
  size_t body_left_ = 0;      // of the current record
  bool handshake_body_ = false;
  std::string message_;       // the first handshake message so far (4-byte header + body)
};

// Parses a Certificate message body (RFC 5246 §7.4.2: certificate_list<0..2^24-1> of
// ASN.1Cert<1..2^24-1>) with every length checked, and screens it. Empty string if it passes;
// else the reason, with *alert set.
std::string ScreenTls12CertificateBody(std::span<const unsigned char> body,
                                       const ca::ChainLimits& limits, int* alert);

// The alert for a ca::ScreenChain / ScreenDerChain refusal (see Tls12ChainScreen::alert).
int AlertForChainRefusal(const ca::Error& error);

// Verifies a chain mbedTLS parsed without verifying (TLS 1.3, hs authmode NONE) as mbedTLS
// would have: against trust with the default profile and f_vrfy, then the leaf's keyUsage
// (digitalSignature) and extendedKeyUsage (clientAuth). Returns the verification flags.
uint32_t VerifyClientChain(mbedtls_x509_crt& chain, mbedtls_x509_crt* trust,
                           int (*f_vrfy)(void*, mbedtls_x509_crt*, int, uint32_t*), void* p_vrfy);

// A TLS 1.3 client's Certificate record(s) of at most this many bytes (headers included) are
// left to mbedTLS to verify: they cannot hold a certificate whose check costs anything (an
// empty Certificate + Finished in one record is <= 82 bytes, a ChangeCipherSpec 6 more), and
// an empty Certificate must keep mbedTLS's optional-auth path (hs authmode NONE would fail it
// with an alert under the wrong keys).
inline constexpr size_t kTls13SmallCertificateBytes = 128;

}  // namespace provisiond::tls
