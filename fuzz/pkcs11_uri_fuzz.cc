// pkcs11_uri_fuzz.cc — the RFC 7512 URI parser (--ca-key-uri, ca.key.uri) on arbitrary text:
// whatever it accepts formats to a URI that parses back to the same attributes, never with a
// pin-value attribute.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ca/token/token.h"

namespace token = ca::token;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto uri = token::ParseUri(text);
  if (!uri) return 0;
  const std::string formatted = token::FormatUri(*uri);
  auto again = token::ParseUri(formatted);
  if (!again) {
    if (uri->pin_value && uri->pin_source.empty()) return 0;  // no PIN left to name: allowed
    __builtin_trap();
  }
  // The text may hold "pin-value" inside another value (a module path); the attribute never.
  if (again->pin_value) __builtin_trap();
  if (again->token != uri->token || again->manufacturer != uri->manufacturer ||
      again->model != uri->model || again->serial != uri->serial ||
      again->object != uri->object || again->id != uri->id || again->slot_id != uri->slot_id ||
      again->module_path != uri->module_path || again->pin_source != uri->pin_source) {
    __builtin_trap();
  }
  return 0;
}
