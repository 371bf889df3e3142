// error.cc — turns mbedTLS return codes and our error codes into text for the log.
#include "ca/error.h"

#include <mbedtls/error.h>

#include <cstdio>

namespace ca {

std::string MbedtlsError(const char* call, int ret) {
  char text[160];
  mbedtls_strerror(ret, text, sizeof(text));
  const unsigned magnitude =
      ret < 0 ? static_cast<unsigned>(-static_cast<long>(ret)) : static_cast<unsigned>(ret);
  char code[24];
  std::snprintf(code, sizeof(code), "%s0x%04X", ret < 0 ? "-" : "", magnitude);
  return std::string(call) + ": " + code + " " + text;
}

const char* CodeName(Code code) {
  switch (code) {
    case Code::kInvalidArgument:
      return "invalid_argument";
    case Code::kMalformed:
      return "malformed";
    case Code::kUnsupportedKey:
      return "unsupported_key";
    case Code::kUnsupportedAlg:
      return "unsupported_alg";
    case Code::kBadSignature:
      return "bad_signature";
    case Code::kIdentityMismatch:
      return "identity_mismatch";
    case Code::kPolicy:
      return "policy";
    case Code::kCrypto:
      return "crypto";
    case Code::kUnavailable:
      return "unavailable";
  }
  return "unknown";
}

base::Error ToBaseError(const Error& error) {
  switch (error.code) {
    case Code::kCrypto:
    case Code::kUnavailable:
      return {base::Code::kInternal, error.detail};  // nothing the caller passed is at fault
    case Code::kMalformed:
      return {base::Code::kMalformed, error.detail};
    default:
      return {base::Code::kInvalidArgument, error.detail};
  }
}

}  // namespace ca
