// cidr.h — IPv4/IPv6 address ranges (--proxy-protocol-from) and whether a peer is in one.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace provisiond {

struct Cidr {
  bool v6 = false;
  std::array<uint8_t, 16> address{};  // the first 4 bytes for IPv4
  int prefix = 0;                     // 0-32 or 0-128
};

// "10.0.0.0/8", "2001:db8::/32", or a bare address (/32, /128). kInvalidArgument, naming the
// text, for anything else: a name, a prefix out of range, bits set after the prefix
// ("10.0.0.1/8" is refused: it reads like a typo for one address or for 10.0.0.0/8).
base::Result<Cidr> ParseCidr(std::string_view text);

// Whether an address (4 bytes, or 16 with v6) is in one of the ranges. An IPv4-mapped IPv6
// address (::ffff:a.b.c.d, a v4 client of a [::] listener) is matched as the IPv4 address it
// carries. (net.h PeerInAnyCidr takes a socket address.)
bool InAnyCidr(const std::vector<Cidr>& ranges, bool v6, std::span<const uint8_t> address);

}  // namespace provisiond
