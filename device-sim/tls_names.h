// tls_names.h — TLS versions as the CLI names them, and the texts device-sim reports for TLS
// alerts, mbedTLS error codes and certificate verification flags.
#pragma once

#include <cstdint>
#include <string>

namespace devsim {

enum class TlsVersion { k12, k13 };

// "1.2" / "1.3".
const char* TlsVersionName(TlsVersion version);

// "bad_certificate", "unknown_ca", ... for a TLS alert number; "alert <n>" if unnamed.
std::string AlertName(int alert);

// mbedtls_strerror text for an mbedTLS return code.
std::string MbedtlsText(int ret);

// mbedtls_x509_crt_verify_info for `flags` on one line, items separated by "; ".
std::string VerifyFlagsText(uint32_t flags);

}  // namespace devsim
