// connection_proxy.cc — a connection's first bytes, before its TLS session exists: the PROXY
// protocol v2 header of a --proxy-protocol-from peer, and the refusal of one from anyone else.
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>

#include "daemon/connection.h"
#include "daemon/flood_budget.h"
#include "daemon/log.h"
#include "daemon/metrics.h"
#include "daemon/proxy_header.h"

namespace provisiond {

// The bytes are peeked, not read: the TLS session reads the client's own bytes from the socket
// as it always has, and a connection without a header costs one recv, as before. The TLS session
// (mbedTLS allocates its 16 KiB input and output record buffers in mbedtls_ssl_setup) is made
// only once the client's first bytes are there, so a silent connection holds a socket and this
// object, not ~40 KiB. An EOF or an error before any byte starts it: the handshake then fails
// and is logged as before.
Connection::FirstBytes Connection::ScreenOpening() {
  uint8_t buf[proxy::kMaxHeaderBytes];  // the header's bound; the kernel holds the rest
  const size_t want = await_proxy_header_ ? sizeof buf : proxy::kSignatureBytes;
  const ssize_t n = ::recv(fd_.get(), buf, want, MSG_PEEK | MSG_DONTWAIT);
  if (n < 0) {
    return errno == EAGAIN || errno == EWOULDBLOCK ? FirstBytes::kWait : FirstBytes::kStart;
  }
  if (n == 0) return FirstBytes::kStart;
  const std::span<const uint8_t> seen(buf, static_cast<size_t>(n));
  if (await_proxy_header_) return TakeProxyHeader(seen);
  switch (proxy::Classify(seen)) {
    case proxy::Opening::kOther:
      return FirstBytes::kStart;
    case proxy::Opening::kPrefix:  // e.g. "\r\n" so far: the next bytes decide
      return PeerHungUp() ? FirstBytes::kStart : FirstBytes::kWait;
    case proxy::Opening::kV2:
      RefuseProxy("untrusted_v2");
      return FirstBytes::kClosed;
    case proxy::Opening::kV1:
      RefuseProxy("untrusted_v1");
      return FirstBytes::kClosed;
  }
  return FirstBytes::kStart;
}

Connection::FirstBytes Connection::TakeProxyHeader(std::span<const uint8_t> seen) {
  proxy::Result header = proxy::Parse(seen);
  if (header.status == proxy::Status::kRefused) {
    RefuseProxy(header.reason);
    return FirstBytes::kClosed;
  }
  if (header.status == proxy::Status::kNeedMore) {
    if (!PeerHungUp()) return FirstBytes::kWait;  // the rest may come in another segment
    RefuseProxy("truncated");
    return FirstBytes::kClosed;
  }
  uint8_t sink[proxy::kMaxHeaderBytes];
  if (::recv(fd_.get(), sink, header.length, MSG_DONTWAIT) != static_cast<ssize_t>(header.length)) {
    RefuseProxy("short_read");
    return FirstBytes::kClosed;
  }
  if (!header.source.empty()) peer_address_ = std::move(header.source);
  await_proxy_header_ = false;
  // The client's own bytes are screened like any peer's: a second header is refused.
  return ScreenOpening();
}

void Connection::RefuseProxy(std::string_view reason) {
  GlobalMetrics().proxy_refused.Inc(reason);
  if (UnauthenticatedBudget().Admit(/*row=*/false)) {
    Log(Priority::kWarning, "proxy_refused", {{"peer", peer_address_}, {"reason", reason}});
  }
  phase_ = Phase::kDone;
}

// Whether the peer has shut down its side: a header still incomplete then never completes.
bool Connection::PeerHungUp() const {
  pollfd p{fd_.get(), POLLRDHUP, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

}  // namespace provisiond
