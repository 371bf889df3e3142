// client_chain_fuzz.cc — the TLS 1.2 client-chain screen (issue #12): the record stream mbedTLS
// reads while waiting for the client's Certificate, fed in chunks whose size is the first input
// byte, and the same bytes as a bare Certificate message body. Checks the screen's invariants.
// Also with small limits, so that inputs of libFuzzer's default length reach every bound.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <algorithm>
#include <span>
#include <string>

#include "daemon/tls/client_chain.h"

namespace {

bool KnownAlert(int alert) {
  return alert == MBEDTLS_SSL_ALERT_MSG_BAD_CERT || alert == MBEDTLS_SSL_ALERT_MSG_UNSUPPORTED_CERT ||
         alert == MBEDTLS_SSL_ALERT_MSG_DECODE_ERROR;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t chunk = data[0] == 0 ? 1 : data[0];
  std::span<const unsigned char> rest(data + 1, size - 1);

  static constexpr ca::ChainLimits kSmall{2, 600, 900};
  for (const ca::ChainLimits& limits : {ca::kClientChainLimits, kSmall}) {
    provisiond::tls::Tls12ChainScreen screen(limits);
    using Verdict = provisiond::tls::Tls12ChainScreen::Verdict;
    Verdict last = Verdict::kMore;
    for (size_t at = 0; at < rest.size(); at += chunk) {
      Verdict v = screen.Feed(rest.subspan(at, std::min(chunk, rest.size() - at)));
      if (last != Verdict::kMore && v != last) std::abort();  // a decision is final
      last = v;
    }
    if (last == Verdict::kRefuse && (!KnownAlert(screen.alert()) || screen.reason().empty())) {
      std::abort();
    }
    int alert = 0;
    std::string reason = provisiond::tls::ScreenTls12CertificateBody(rest, limits, &alert);
    if (!reason.empty() && !KnownAlert(alert)) std::abort();
  }
  return 0;
}
