// chain_limits.h — what a TLS client may present before it is authenticated: how many
// certificates, how large, and only the key types our trust model uses, so that verifying a
// presented chain costs a bounded amount of CPU whatever the client sends.
#pragma once

#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include <cstddef>
#include <span>

#include "ca/error.h"

namespace ca {

struct ChainLimits {
  size_t max_certs;        // leaf + intermediates (+ a root, if the client sends one)
  size_t max_cert_bytes;   // one certificate's DER
  size_t max_total_bytes;  // all certificates' DER together
};

// A device chain is a P-256 leaf (~500-800 bytes) and one or two manufacturer CAs (an RSA-4096
// CA certificate is ~1.5-2 KiB). The attack of issue #12 sent 5 certificates, 14 KiB.
inline constexpr ChainLimits kClientChainLimits{4, 4096, 12 * 1024};

// Keys accepted in a presented chain (checked before any signature is verified with them):
//   leaf (index 0): EC P-256 (what devices generate for their operational key) or P-384 (a
//     bootstrap key a manufacturer chose; its CertificateVerify scheme is checked, alerts.cc);
//   CAs (index >= 1): EC P-256 or P-384, or RSA of 2048..4096 bits with 3 <= e <= 65537.
inline constexpr size_t kMinRsaBits = 2048;
inline constexpr size_t kMaxRsaBits = 4096;
inline constexpr unsigned kMaxRsaExponent = 65537;

// kUnsupportedKey (detail names the certificate's position and key) if pk is not allowed at
// that position of the chain.
Result<void> ScreenChainKey(const mbedtls_pk_context& pk, size_t index);

// Count and sizes only, for a certificate list still being read: kMalformed if count
// certificates of these sizes exceed the limits. cert_bytes is the latest certificate's size.
Result<void> ScreenChainShape(size_t count, size_t cert_bytes, size_t total_bytes,
                              const ChainLimits& limits);

// A parsed chain (leaf first, linked by next): count, each certificate's DER size, total size
// (kMalformed), then each key (kUnsupportedKey). No signature is checked.
Result<void> ScreenChain(const mbedtls_x509_crt& chain, const ChainLimits& limits);

// A DER list as a TLS Certificate message carries it: shape first (nothing parsed beyond the
// limits), then each certificate parsed (kMalformed if one does not parse) and screened.
Result<void> ScreenDerChain(std::span<const std::span<const unsigned char>> ders,
                            const ChainLimits& limits);

}  // namespace ca
