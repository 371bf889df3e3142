// http_request_fuzz.cc — the daemon's HTTP request parser on arbitrary bytes, fed in two pieces
// (the split point comes from the input), following keep-alive into later requests.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "daemon/http/request_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t split = data[0] % (size);
  std::string_view all(reinterpret_cast<const char*>(data) + 1, size - 1);
  provisiond::http::ParseLimits limits{.max_header_bytes = 2048, .max_headers = 16,
                                       .max_body_bytes = 4096};
  provisiond::http::RequestParser parser(limits);
  using State = provisiond::http::RequestParser::State;
  State s = parser.Feed(all.substr(0, split < all.size() ? split : all.size()));
  if (split < all.size() && s == State::kNeedMore) s = parser.Feed(all.substr(split));
  for (int i = 0; i < 16 && s == State::kComplete; ++i) {
    const auto& r = parser.request();
    // Bounds the parser promises, whatever the input.
    if (r.body.size() > limits.max_body_bytes || r.headers.size() > limits.max_headers) __builtin_trap();
    s = parser.NextRequest();
  }
  if (s == State::kError && (parser.error_status() < 400 || parser.error_status() > 499)) {
    __builtin_trap();
  }
  return 0;
}
