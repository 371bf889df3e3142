// record_screen.cc — record lengths checked before mbedTLS reads a record (see record_screen.h).
#include "daemon/tls/record_screen.h"

#include <algorithm>

namespace provisiond::tls {

bool RecordScreen::Feed(std::span<const unsigned char> bytes, size_t limit) {
  size_t i = 0;
  while (!off_ && i < bytes.size()) {
    if (body_left_ > 0) {
      const size_t skip = std::min(body_left_, bytes.size() - i);
      body_left_ -= skip;
      i += skip;
      complete_ = complete_ || body_left_ == 0;
      continue;
    }
    if (first_ && header_got_ == 0 && (bytes[i] & 0x80) != 0) {
      off_ = true;  // SSLv2-format ClientHello: not a TLS record header
      break;
    }
    header_[header_got_++] = bytes[i++];
    if (header_got_ < sizeof header_) continue;
    header_got_ = 0;
    first_ = false;
    last_length_ = (static_cast<size_t>(header_[3]) << 8) | header_[4];
    if (last_length_ > limit) return false;
    body_left_ = last_length_;
    complete_ = complete_ || body_left_ == 0;
  }
  return true;
}

}  // namespace provisiond::tls
