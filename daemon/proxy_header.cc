// proxy_header.cc — the PROXY protocol v2 header parser (see proxy_header.h).
#include "daemon/proxy_header.h"

#include <arpa/inet.h>

#include <algorithm>

namespace provisiond::proxy {
namespace {

constexpr uint8_t kV2Signature[kSignatureBytes] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                                   0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
constexpr uint8_t kV1Signature[] = {'P', 'R', 'O', 'X', 'Y', ' '};

constexpr uint8_t kLocal = 0x0, kProxy = 0x1;
constexpr uint8_t kUnspec = 0x00, kTcp4 = 0x11, kTcp6 = 0x21;
constexpr size_t kTcp4AddressBytes = 2 * 4 + 2 * 2, kTcp6AddressBytes = 2 * 16 + 2 * 2;
constexpr size_t kTlvHeaderBytes = 3;  // type, 16-bit length

// A prefix of `signature` as long as the data (or the whole signature if the data is longer).
bool StartsLike(std::span<const uint8_t> data, std::span<const uint8_t> signature) {
  const size_t n = std::min(data.size(), signature.size());
  return std::equal(data.begin(), data.begin() + n, signature.begin());
}

// The families the specification defines (section 2.2): anything else is invalid whatever the
// command.
bool DefinedFamily(uint8_t family) {
  switch (family) {
    case 0x00:
    case 0x11:
    case 0x12:
    case 0x21:
    case 0x22:
    case 0x31:
    case 0x32:
      return true;
    default:
      return false;
  }
}

uint16_t Be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

Result Refuse(std::string_view reason) { return Result{Status::kRefused, 0, "", reason}; }

// The source address and port of a TCP4 or TCP6 address block, as the daemon logs peers.
std::string Source(uint8_t family, std::span<const uint8_t> block) {
  char host[INET6_ADDRSTRLEN] = "?";
  if (family == kTcp4) {
    inet_ntop(AF_INET, block.data(), host, sizeof host);
    return std::string(host) + ":" + std::to_string(Be16(block.data() + 8));
  }
  inet_ntop(AF_INET6, block.data(), host, sizeof host);
  return "[" + std::string(host) + "]:" + std::to_string(Be16(block.data() + 32));
}

// Every TLV after the address block fits exactly in the header. Their contents are not used.
bool TlvsFit(std::span<const uint8_t> tlvs) {
  size_t pos = 0;
  while (pos < tlvs.size()) {
    if (tlvs.size() - pos < kTlvHeaderBytes) return false;
    const size_t value = Be16(tlvs.data() + pos + 1);
    if (value > tlvs.size() - pos - kTlvHeaderBytes) return false;
    pos += kTlvHeaderBytes + value;
  }
  return true;
}

}  // namespace

Opening Classify(std::span<const uint8_t> data) {
  if (data.empty()) return Opening::kPrefix;
  if (StartsLike(data, kV2Signature)) {
    return data.size() >= kSignatureBytes ? Opening::kV2 : Opening::kPrefix;
  }
  if (StartsLike(data, kV1Signature)) {
    return data.size() >= sizeof kV1Signature ? Opening::kV1 : Opening::kPrefix;
  }
  return Opening::kOther;
}

Result Parse(std::span<const uint8_t> data) {
  data = data.first(std::min(data.size(), kMaxHeaderBytes));
  switch (Classify(data)) {
    case Opening::kOther:
      return Refuse("no_header");
    case Opening::kV1:
      return Refuse("v1_header");
    case Opening::kPrefix:
      return Result{};
    case Opening::kV2:
      break;
  }
  // Each field is judged as soon as it is there, so a bad header is refused without waiting.
  if (data.size() > 12) {
    if (data[12] >> 4 != 2) return Refuse("bad_version");
    if ((data[12] & 0x0F) > kProxy) return Refuse("bad_command");
  }
  if (data.size() > 13 && !DefinedFamily(data[13])) return Refuse("bad_family");
  if (data.size() < kFixedBytes) return Result{};
  const uint8_t command = data[12] & 0x0F, family = data[13];
  const size_t payload = Be16(data.data() + 14);
  if (payload > kMaxPayloadBytes) return Refuse("too_long");
  // PROXY over UDP or UNIX sockets: a TLS client is neither, and a path is no address to
  // rate-limit. (UNSPEC: the sender knows no address; the real peer stays, as the spec allows.)
  if (command == kProxy && family != kUnspec && family != kTcp4 && family != kTcp6) {
    return Refuse("bad_family");
  }
  if (data.size() < kFixedBytes + payload) return Result{};
  Result done{Status::kDone, kFixedBytes + payload, "", ""};
  // LOCAL (a health check of the balancer's own) and UNSPEC: the block is ignored, as the
  // specification says, and the connection's own endpoints stand.
  if (command == kLocal || family == kUnspec) return done;
  const auto block = data.subspan(kFixedBytes, payload);
  const size_t address_bytes = family == kTcp4 ? kTcp4AddressBytes : kTcp6AddressBytes;
  if (payload < address_bytes) return Refuse("short_address");
  if (!TlvsFit(block.subspan(address_bytes))) return Refuse("bad_tlv");
  done.source = Source(family, block);
  return done;
}

}  // namespace provisiond::proxy
