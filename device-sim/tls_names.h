// tls_names.h — TLS versions as the CLI names them, and the texts device-sim reports for TLS
// alerts, mbedTLS error codes and certificate verification flags.
#pragma once

#include <cstdint>
#include <string>

namespace devsim {

enum class TlsVersion { k12, k13 };

// "1.2" / "1.3".
const char* TlsVersionName(TlsVersion version);

// The group a TLS 1.3 ClientHello sends its key share for. Both are offered either way; the one
// named goes first in supported_groups and is the only key share sent.
enum class KeyShare { kSecp256r1, kX25519 };

// "secp256r1" / "x25519".
const char* KeyShareName(KeyShare share);

// The IANA group list for mbedtls_ssl_conf_groups (static, NONE-terminated), `share` first.
const uint16_t* GroupList(KeyShare share);

// "bad_certificate", "unknown_ca", ... for a TLS alert number; "alert <n>" if unnamed.
std::string AlertName(int alert);

// mbedtls_strerror text for an mbedTLS return code.
std::string MbedtlsText(int ret);

// mbedtls_x509_crt_verify_info for `flags` on one line, items separated by "; ".
std::string VerifyFlagsText(uint32_t flags);

}  // namespace devsim
