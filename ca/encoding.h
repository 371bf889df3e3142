// encoding.h — base64 (EST wire form), PEM, hex, SHA-256 and time formatting.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "base/types.h"
#include "ca/error.h"

namespace ca {

// Base64 of `data`. With wrap=true, lines of 64 characters each ending in CRLF (the EST/RFC 8951
// form libest expects), the last line CRLF-terminated too; with wrap=false one unbroken line.
std::string Base64Encode(std::span<const unsigned char> data, bool wrap);

// Decodes base64, ignoring CR, LF, space and tab anywhere. Any other non-alphabet byte, bad
// padding or an empty result is kMalformed. Fails with kMalformed if the decoded size would
// exceed max_decoded.
Result<base::Bytes> Base64Decode(std::string_view text, size_t max_decoded);

// "-----BEGIN <label>-----\n" + base64 in 64-column LF lines + "-----END <label>-----\n".
std::string DerToPem(std::span<const unsigned char> der, std::string_view label);

std::string HexLower(std::span<const unsigned char> data);
std::string Sha256Hex(std::span<const unsigned char> data);

// 2026-11-27T07:50:28Z
std::string Iso8601(base::UnixTime t);

}  // namespace ca
