// proxy_header_fuzz.cc — the PROXY protocol v2 header parser on arbitrary bytes, whole and at a
// split point from the input (the header arriving in two reads), checking the parser's promises.
#include <cstddef>
#include <cstdint>
#include <span>

#include "daemon/proxy_header.h"

namespace proxy = provisiond::proxy;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::span<const uint8_t> all(data + 1, size - 1);
  const size_t split = data[0] % size;
  const auto whole = proxy::Parse(all);
  const auto first = proxy::Parse(all.first(split < all.size() ? split : all.size()));
  if (whole.status == proxy::Status::kDone) {
    // Bounded, within the bytes given, never shorter than the fixed part.
    if (whole.length < proxy::kFixedBytes || whole.length > proxy::kMaxHeaderBytes ||
        whole.length > all.size()) {
      __builtin_trap();
    }
  }
  // More bytes never change a decision already made on fewer (a split read sees the same).
  if (first.status != proxy::Status::kNeedMore &&
      (first.status != whole.status || first.length != whole.length ||
       first.source != whole.source || first.reason != whole.reason)) {
    __builtin_trap();
  }
  if (whole.status == proxy::Status::kNeedMore && all.size() >= proxy::kMaxHeaderBytes) {
    __builtin_trap();  // the bound: a header this long is decided
  }
  (void)proxy::Classify(all);
  return 0;
}
