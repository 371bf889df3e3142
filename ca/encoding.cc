// encoding.cc — base64 (strict alphabet, whitespace tolerated), PEM, hex, SHA-256, ISO 8601 times.
#include "ca/encoding.h"

#include <mbedtls/base64.h>
#include <mbedtls/sha256.h>

#include <cstdio>

#include "ca/civil_time.h"

namespace ca {
namespace {

std::string Base64OneLine(std::span<const unsigned char> data) {
  size_t needed = 0;
  mbedtls_base64_encode(nullptr, 0, &needed, data.data(), data.size());
  std::string out(needed, '\0');  // needed includes the NUL mbedTLS appends
  size_t written = 0;
  if (mbedtls_base64_encode(reinterpret_cast<unsigned char*>(out.data()), out.size(), &written,
                            data.data(), data.size()) != 0) {
    return {};  // cannot happen: the buffer has the size mbedTLS asked for
  }
  out.resize(written);
  return out;
}

std::string Wrap(std::string_view text, size_t width, std::string_view eol) {
  std::string out;
  out.reserve(text.size() + (text.size() / width + 1) * eol.size());
  for (size_t i = 0; i < text.size(); i += width) {
    out.append(text.substr(i, width));
    out.append(eol);
  }
  return out;
}

}  // namespace

std::string Base64Encode(std::span<const unsigned char> data, bool wrap) {
  std::string line = Base64OneLine(data);
  return wrap ? Wrap(line, 64, "\r\n") : line;
}

Result<base::Bytes> Base64Decode(std::string_view text, size_t max_decoded) {
  // Bound before copying: 4 significant characters per 3 bytes, so anything with more than this
  // many significant characters cannot fit, whatever its whitespace.
  const size_t max_chars = (max_decoded / 3 + 1) * 4;
  std::string compact;
  for (char c : text) {
    if (c == '\r' || c == '\n' || c == ' ' || c == '\t') continue;
    if (compact.size() == max_chars) return Fail(Code::kMalformed, "base64: too long");
    compact.push_back(c);
  }
  const auto* src = reinterpret_cast<const unsigned char*>(compact.data());
  size_t needed = 0;
  int ret = mbedtls_base64_decode(nullptr, 0, &needed, src, compact.size());
  if (ret == MBEDTLS_ERR_BASE64_INVALID_CHARACTER) {
    return Fail(Code::kMalformed, MbedtlsError("mbedtls_base64_decode", ret));
  }
  if (needed == 0) return Fail(Code::kMalformed, "base64: empty");
  if (needed > max_decoded) return Fail(Code::kMalformed, "base64: decoded size over limit");
  base::Bytes out(needed);
  size_t written = 0;
  ret = mbedtls_base64_decode(out.data(), out.size(), &written, src, compact.size());
  if (ret != 0) return Fail(Code::kMalformed, MbedtlsError("mbedtls_base64_decode", ret));
  out.resize(written);
  return out;
}

std::string DerToPem(std::span<const unsigned char> der, std::string_view label) {
  std::string out = "-----BEGIN " + std::string(label) + "-----\n";
  out += Wrap(Base64OneLine(der), 64, "\n");
  out += "-----END " + std::string(label) + "-----\n";
  return out;
}

std::string HexLower(std::span<const unsigned char> data) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (unsigned char b : data) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0x0f]);
  }
  return out;
}

std::string Sha256Hex(std::span<const unsigned char> data) {
  unsigned char digest[32];
  if (mbedtls_sha256(data.data(), data.size(), digest, 0) != 0) return {};
  return HexLower(digest);
}

std::string Iso8601(base::UnixTime t) {
  const CivilTime c = ToCivil(t);
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%04lld-%02u-%02uT%02u:%02u:%02uZ",
                static_cast<long long>(c.year), c.month, c.day, c.hour, c.minute, c.second);
  return buf;
}

}  // namespace ca
