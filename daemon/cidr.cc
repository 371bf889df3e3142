// cidr.cc — address ranges and matching (see cidr.h).
#include "daemon/cidr.h"

#include <arpa/inet.h>

#include <cstring>

namespace provisiond {
namespace {

base::Result<Cidr> Bad(std::string_view text, std::string_view why) {
  return base::Fail(base::Code::kInvalidArgument,
                    "'" + std::string(text) + "': " + std::string(why));
}

// Whether the first `prefix` bits of a and b agree.
bool SamePrefix(const uint8_t* a, const uint8_t* b, int prefix) {
  const int whole = prefix / 8, rest = prefix % 8;
  if (std::memcmp(a, b, whole) != 0) return false;
  if (rest == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xFF << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

}  // namespace

base::Result<Cidr> ParseCidr(std::string_view text) {
  if (text.empty() || text.size() > 64) return Bad(text, "want ADDRESS/PREFIX, e.g. 10.0.0.0/8");
  const size_t slash = text.find('/');
  const std::string host(text.substr(0, slash));
  Cidr c;
  if (inet_pton(AF_INET, host.c_str(), c.address.data()) == 1) {
    c.v6 = false;
  } else if (inet_pton(AF_INET6, host.c_str(), c.address.data()) == 1) {
    c.v6 = true;
  } else {
    return Bad(text, "not a numeric IPv4 or IPv6 address (want e.g. 10.0.0.0/8 or fd00::/8)");
  }
  const int bits = c.v6 ? 128 : 32;
  c.prefix = bits;
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3 ||
        digits.find_first_not_of("0123456789") != std::string_view::npos ||
        std::stoi(std::string(digits)) > bits) {
      return Bad(text, "prefix length must be a number in 0-" + std::to_string(bits));
    }
    c.prefix = std::stoi(std::string(digits));
  }
  Cidr masked = c;
  for (int i = c.prefix; i < bits; ++i) masked.address[i / 8] &= ~(0x80 >> (i % 8));
  if (!SamePrefix(masked.address.data(), c.address.data(), bits)) {
    return Bad(text, "address bits set after the prefix length");
  }
  return c;
}

bool InAnyCidr(const std::vector<Cidr>& ranges, bool v6, std::span<const uint8_t> address) {
  if (address.size() != (v6 ? 16u : 4u)) return false;
  constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
  if (v6 && std::memcmp(address.data(), kMapped, sizeof kMapped) == 0) {
    v6 = false;
    address = address.subspan(12);
  }
  for (const Cidr& c : ranges) {
    if (c.v6 == v6 && SamePrefix(c.address.data(), address.data(), c.prefix)) return true;
  }
  return false;
}

}  // namespace provisiond
