// cidr_test.cc — tests for daemon/cidr.cc: --proxy-protocol-from ranges parsed and matched
// (IPv4, IPv6, IPv4-mapped IPv6, prefix edges) and the texts refused.
#include "daemon/cidr.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>

#include <array>

namespace {

using provisiond::Cidr;
using provisiond::InAnyCidr;
using provisiond::ParseCidr;

bool In(const std::vector<Cidr>& ranges, const char* address) {
  std::array<uint8_t, 16> bytes{};
  if (inet_pton(AF_INET, address, bytes.data()) == 1) {
    return InAnyCidr(ranges, false, std::span(bytes.data(), 4));
  }
  REQUIRE(inet_pton(AF_INET6, address, bytes.data()) == 1);
  return InAnyCidr(ranges, true, std::span(bytes.data(), 16));
}

std::vector<Cidr> Ranges(std::initializer_list<const char*> texts) {
  std::vector<Cidr> out;
  for (const char* t : texts) {
    auto c = ParseCidr(t);
    REQUIRE_MESSAGE(c.has_value(), t);
    out.push_back(*c);
  }
  return out;
}

}  // namespace

TEST_CASE("IPv4 ranges: inside, outside, the edges of the prefix") {
  const auto r = Ranges({"10.0.0.0/8", "192.168.1.128/25", "127.0.0.1"});
  CHECK(In(r, "10.255.1.2"));
  CHECK_FALSE(In(r, "11.0.0.0"));
  CHECK(In(r, "192.168.1.128"));
  CHECK(In(r, "192.168.1.255"));
  CHECK_FALSE(In(r, "192.168.1.127"));
  CHECK(In(r, "127.0.0.1"));
  CHECK_FALSE(In(r, "127.0.0.2"));
  CHECK(In(r, "::ffff:10.1.2.3"));  // a v4 client of a [::] listener
  CHECK_FALSE(In(r, "::ffff:11.1.2.3"));
}

TEST_CASE("IPv6 ranges, and v4 and v6 never match each other's ranges otherwise") {
  const auto r = Ranges({"fd00::/8", "2001:db8::1/128"});
  CHECK(In(r, "fd12:3456::1"));
  CHECK(In(r, "2001:db8::1"));
  CHECK_FALSE(In(r, "2001:db8::2"));
  CHECK_FALSE(In(r, "10.0.0.1"));
  CHECK_FALSE(In(Ranges({"0.0.0.0/0"}), "::1"));
  CHECK(In(Ranges({"0.0.0.0/0"}), "203.0.113.9"));
  CHECK(In(Ranges({"::/0"}), "::1"));
  CHECK_FALSE(In({}, "127.0.0.1"));
}

TEST_CASE("bad ranges are refused with the text named") {
  for (const char* bad : {"", "localhost", "10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/-1",
                          "10.0.0.0/8x", "10.0.0.1/8", "fd00::1/8", "10.0.0.0/8/8", "1.2.3"}) {
    auto c = ParseCidr(bad);
    CHECK_MESSAGE(!c.has_value(), bad);
    if (!c) CHECK(c.error().detail.find("'" + std::string(bad) + "'") == 0);
  }
}
