// proxy_header_test.cc — tests for daemon/proxy_header.cc: PROXY protocol v2 headers (TCP4,
// TCP6, LOCAL, UNSPEC, TLVs) parsed whole and byte by byte, and every refusal.
#include "daemon/proxy_header.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace {

namespace proxy = provisiond::proxy;
using Bytes = std::vector<uint8_t>;

const Bytes kSignature = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

// A v2 header: signature, version/command byte, family byte, then `payload` with its length.
Bytes Header(uint8_t version_command, uint8_t family, const Bytes& payload) {
  Bytes h = kSignature;
  h.push_back(version_command);
  h.push_back(family);
  h.push_back(static_cast<uint8_t>(payload.size() >> 8));
  h.push_back(static_cast<uint8_t>(payload.size() & 0xFF));
  h.insert(h.end(), payload.begin(), payload.end());
  return h;
}

// 192.0.2.7:50123 -> 198.51.100.1:443, then `tlvs`.
Bytes Tcp4(const Bytes& tlvs = {}) {
  Bytes p = {192, 0, 2, 7, 198, 51, 100, 1, 0xC3, 0xCB, 0x01, 0xBB};
  p.insert(p.end(), tlvs.begin(), tlvs.end());
  return p;
}

// [2001:db8::5]:8080 -> [2001:db8::1]:443.
Bytes Tcp6() {
  Bytes p(36, 0);
  p[0] = 0x20, p[1] = 0x01, p[2] = 0x0d, p[3] = 0xb8, p[15] = 5;
  p[16] = 0x20, p[17] = 0x01, p[18] = 0x0d, p[19] = 0xb8, p[31] = 1;
  p[32] = 0x1F, p[33] = 0x90, p[34] = 0x01, p[35] = 0xBB;
  return p;
}

proxy::Result Parse(const Bytes& b) { return proxy::Parse(std::span(b.data(), b.size())); }

// Every proper prefix of a valid header needs more; the whole header is the same result.
void CheckEveryPrefixNeedsMore(const Bytes& header) {
  for (size_t n = 0; n < header.size(); ++n) {
    CAPTURE(n);
    CHECK(proxy::Parse(std::span(header.data(), n)).status == proxy::Status::kNeedMore);
  }
}

}  // namespace

TEST_CASE("PROXY TCP4: the source address and port, the header's length, TLS bytes after it") {
  Bytes h = Header(0x21, 0x11, Tcp4());
  CheckEveryPrefixNeedsMore(h);
  h.insert(h.end(), {0x16, 0x03, 0x01});  // the ClientHello that follows is not the header's
  auto r = Parse(h);
  REQUIRE(r.status == proxy::Status::kDone);
  CHECK(r.length == 28);
  CHECK(r.source == "192.0.2.7:50123");
}

TEST_CASE("PROXY TCP6: bracketed address, as the daemon logs IPv6 peers") {
  const Bytes h = Header(0x21, 0x21, Tcp6());
  CheckEveryPrefixNeedsMore(h);
  auto r = Parse(h);
  REQUIRE(r.status == proxy::Status::kDone);
  CHECK(r.length == 52);
  CHECK(r.source == "[2001:db8::5]:8080");
}

TEST_CASE("LOCAL and UNSPEC keep the real peer, whatever address block follows") {
  for (const Bytes& h : {Header(0x20, 0x00, {}), Header(0x20, 0x11, Tcp4()),
                         Header(0x20, 0x31, Bytes(216, 0)), Header(0x21, 0x00, {1, 2, 3, 4, 5})}) {
    auto r = Parse(h);
    REQUIRE(r.status == proxy::Status::kDone);
    CHECK(r.length == h.size());
    CHECK(r.source.empty());
  }
}

TEST_CASE("TLVs after the address block are skipped when they fit exactly") {
  const Bytes tlvs = {0x04, 0x00, 0x02, 0xAA, 0xBB,  // NOOP, 2 bytes
                      0x05, 0x00, 0x00,              // UNIQUE_ID, empty
                      0x02, 0x00, 0x03, 'a',  'b',  'c'};
  const Bytes h = Header(0x21, 0x11, Tcp4(tlvs));
  CheckEveryPrefixNeedsMore(h);
  auto r = Parse(h);
  REQUIRE(r.status == proxy::Status::kDone);
  CHECK(r.length == h.size());
  CHECK(r.source == "192.0.2.7:50123");
}

TEST_CASE("a TLV running past the header, or a stub of one, is refused") {
  CHECK(Parse(Header(0x21, 0x11, Tcp4({0x04, 0x00, 0x05, 0xAA}))).reason == "bad_tlv");
  CHECK(Parse(Header(0x21, 0x11, Tcp4({0x04, 0x00}))).reason == "bad_tlv");
  CHECK(Parse(Header(0x21, 0x11, Tcp4({0x04}))).reason == "bad_tlv");
}

TEST_CASE("the length field is bounded before the payload is waited for") {
  auto noop = [](size_t n) {  // a NOOP TLV with n value bytes
    Bytes t = {0x04, static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n & 0xFF)};
    t.resize(3 + n, 0);
    return t;
  };
  const Bytes over = Header(0x21, 0x11, Tcp4(noop(501)));  // 12 + 3 + 501 = 516 > 512
  // Refused from the 16 fixed bytes alone, without waiting for the 516.
  auto r = proxy::Parse(std::span(over.data(), 16));
  CHECK(r.status == proxy::Status::kRefused);
  CHECK(r.reason == "too_long");
  const Bytes fits = Header(0x21, 0x11, Tcp4(noop(497)));  // 512
  auto ok = Parse(fits);
  CHECK(ok.status == proxy::Status::kDone);
  CHECK(ok.length == proxy::kMaxHeaderBytes);
  Bytes huge = Header(0x21, 0x00, {});
  huge[14] = 0xFF, huge[15] = 0xFF;
  CHECK(Parse(huge).reason == "too_long");
}

TEST_CASE("wrong version, command or family is refused as soon as its byte is there") {
  auto refused = [](Bytes h, size_t upto, std::string_view reason) {
    h.resize(upto);
    auto r = Parse(h);
    CHECK(r.status == proxy::Status::kRefused);
    CHECK(r.reason == reason);
  };
  refused(Header(0x11, 0x11, Tcp4()), 13, "bad_version");  // version 1 in the binary form
  refused(Header(0x31, 0x11, Tcp4()), 13, "bad_version");
  refused(Header(0x22, 0x11, Tcp4()), 13, "bad_command");
  refused(Header(0x2F, 0x11, Tcp4()), 13, "bad_command");
  refused(Header(0x21, 0x13, Tcp4()), 14, "bad_family");  // undefined protocol
  refused(Header(0x21, 0x41, Tcp4()), 14, "bad_family");  // undefined family
  refused(Header(0x20, 0x41, {}), 14, "bad_family");      // LOCAL does not excuse it
  // Defined, but no TLS client's: UDP and UNIX, for PROXY.
  refused(Header(0x21, 0x12, Tcp4()), 16, "bad_family");
  refused(Header(0x21, 0x22, Tcp6()), 16, "bad_family");
  refused(Header(0x21, 0x31, Bytes(216, 0)), 16, "bad_family");
}

TEST_CASE("an address block shorter than its family's is refused") {
  CHECK(Parse(Header(0x21, 0x11, Bytes(11, 0))).reason == "short_address");
  CHECK(Parse(Header(0x21, 0x21, Bytes(12, 0))).reason == "short_address");
  CHECK(Parse(Header(0x21, 0x21, {})).reason == "short_address");
}

TEST_CASE("a truncated header needs more (the caller decides when it is truncated for good)") {
  const Bytes h = Header(0x21, 0x11, Tcp4());
  auto r = proxy::Parse(std::span(h.data(), h.size() - 1));
  CHECK(r.status == proxy::Status::kNeedMore);
}

TEST_CASE("no header: TLS, v1 text, a near-miss of the signature") {
  const Bytes tls = {0x16, 0x03, 0x01, 0x00, 0x10};
  CHECK(Parse(tls).reason == "no_header");
  const std::string v1 = "PROXY TCP4 192.0.2.7 198.51.100.1 50123 443\r\n";
  CHECK(Parse(Bytes(v1.begin(), v1.end())).reason == "v1_header");
  Bytes near = kSignature;
  near[11] = 0x0B;
  CHECK(Parse(near).reason == "no_header");
  CHECK(Parse(Bytes{'P', 'R', 'O'}).status == proxy::Status::kNeedMore);
  CHECK(Parse(Bytes{'P', 'U'}).reason == "no_header");
}

TEST_CASE("Classify: what an untrusted peer's first bytes are") {
  auto of = [](const Bytes& b) { return proxy::Classify(std::span(b.data(), b.size())); };
  CHECK(of({0x16, 0x03, 0x01}) == proxy::Opening::kOther);
  CHECK(of({0x0D, 0x0A}) == proxy::Opening::kPrefix);
  CHECK(of(kSignature) == proxy::Opening::kV2);
  CHECK(of(Header(0x21, 0x11, Tcp4())) == proxy::Opening::kV2);
  CHECK(of({'P', 'R', 'O', 'X', 'Y'}) == proxy::Opening::kPrefix);
  CHECK(of({'P', 'R', 'O', 'X', 'Y', ' '}) == proxy::Opening::kV1);
  CHECK(of({'P', 'R', 'O', 'X', 'Y', '!'}) == proxy::Opening::kOther);
}

TEST_CASE("every reason Parse gives is in kReasons (the metric's label values)") {
  const std::vector<Bytes> inputs = {Header(0x11, 0, {}), Header(0x22, 0, {}),
                                     Header(0x21, 0x41, {}), Header(0x21, 0x11, Bytes(3, 0)),
                                     Header(0x21, 0x11, Tcp4({1}))};
  for (const auto& b : inputs) {
    auto r = Parse(b);
    REQUIRE(r.status == proxy::Status::kRefused);
    CHECK(std::find(std::begin(proxy::kReasons), std::end(proxy::kReasons), r.reason) !=
          std::end(proxy::kReasons));
  }
}
