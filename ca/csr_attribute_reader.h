// csr_attribute_reader.h — reads attributes from a CSR's CertificationRequestInfo that mbedTLS's CSR
// parser does not expose: today the PKCS#9 challengePassword, which carries the RFC 9266
// tls-exporter channel binding (RFC 7030 §3.5).
#pragma once

#include <optional>
#include <span>
#include <string>

#include "ca/error.h"

namespace ca {

inline constexpr size_t kMaxChallengePassword = 255;  // PKCS#9 ub-challenge-password

// The challengePassword attribute of a DER CertificationRequestInfo, if present. kMalformed if
// the attributes do not parse, the attribute is repeated, holds other than exactly one string
// value, or is longer than kMaxChallengePassword.
Result<std::optional<std::string>> ChallengePassword(std::span<const unsigned char> cri);

}  // namespace ca
