// proxy_header.h — the PROXY protocol v2 header a trusted load balancer sends before the TLS
// bytes (haproxy.org doc/proxy-protocol.txt, section 2.2), parsed as a pure function: no socket.
//
// Layout: 12-byte signature \r\n\r\n\0\r\nQUIT\n, one byte version (high nibble, must be 2) and
// command (low nibble: 0 LOCAL, 1 PROXY), one byte family/protocol (0x00 UNSPEC, 0x11 TCP4,
// 0x21 TCP6; UDP and UNIX are defined but refused here), a big-endian 16-bit length of what
// follows: the address block (TCP4 12 bytes, TCP6 36) and then TLVs (type, 16-bit length,
// value), which are length-checked and skipped. The length is bounded by kMaxPayloadBytes
// before anything else is read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace provisiond::proxy {

inline constexpr size_t kSignatureBytes = 12;
inline constexpr size_t kFixedBytes = 16;  // signature, version/command, family, length
// The address block and the TLVs together: a TCP6 block is 36 bytes and HAProxy in TCP mode
// sends no TLV unless told to, so 512 leaves room for an authority or a unique id.
inline constexpr size_t kMaxPayloadBytes = 512;
inline constexpr size_t kMaxHeaderBytes = kFixedBytes + kMaxPayloadBytes;

// What the first bytes of a connection are, as far as they go.
enum class Opening {
  kOther,   // neither header: a TLS record or anything else
  kPrefix,  // a proper prefix of a v2 signature or of "PROXY " (more bytes decide)
  kV2,      // the 12-byte v2 signature
  kV1,      // the v1 text header's "PROXY "
};
Opening Classify(std::span<const uint8_t> data);

enum class Status { kNeedMore, kDone, kRefused };

struct Result {
  Status status = Status::kNeedMore;
  // kDone: the header's whole length (kFixedBytes + its length field); the bytes after it are
  // the client's own (TLS).
  size_t length = 0;
  // kDone: the client's address as "1.2.3.4:5678" or "[2001:db8::1]:5678" (the form the daemon
  // logs peers in); empty for LOCAL and UNSPEC, meaning: keep the connection's real peer.
  std::string source;
  // kRefused: a fixed token for logs and metrics (one of kReasons).
  std::string_view reason;
};

// Parses the v2 header at the start of `data` (the bytes received so far; only the first
// kMaxHeaderBytes are looked at). kNeedMore while the header is incomplete and valid so far;
// kRefused as soon as the bytes seen cannot start a valid header (not the v2 signature, the v1
// text, bad version, command or family, a length over kMaxPayloadBytes, an address block too
// short for its family, a TLV running past the header).
Result Parse(std::span<const uint8_t> data);

// Every reason Parse (and the connection, for what only it can see) gives, for the metric.
inline constexpr std::string_view kReasons[] = {
    "no_header",    "v1_header",     "bad_version", "bad_command", "bad_family",
    "too_long",     "short_address", "bad_tlv",     "truncated",   "timeout",
    "untrusted_v2", "untrusted_v1",  "short_read"};

}  // namespace provisiond::proxy
