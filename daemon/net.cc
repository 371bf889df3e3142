// net.cc — listening sockets (see net.h).
#include "daemon/net.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace provisiond {

std::string FormatAddress(const sockaddr_storage& ss) {
  char host[INET6_ADDRSTRLEN] = "?";
  if (ss.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    return std::string(host) + ":" + std::to_string(ntohs(in->sin_port));
  }
  if (ss.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    return "[" + std::string(host) + "]:" + std::to_string(ntohs(in6->sin6_port));
  }
  return "?";
}

bool PeerInAnyCidr(const std::vector<Cidr>& ranges, const sockaddr_storage& peer) {
  if (peer.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&peer);
    return InAnyCidr(ranges, false, std::span(reinterpret_cast<const uint8_t*>(&in->sin_addr), 4));
  }
  if (peer.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&peer);
    return InAnyCidr(ranges, true, std::span(in6->sin6_addr.s6_addr, 16));
  }
  return false;
}

namespace {

struct AddrInfoDeleter {
  void operator()(addrinfo* a) const { freeaddrinfo(a); }
};
using AddrInfo = std::unique_ptr<addrinfo, AddrInfoDeleter>;

base::Result<AddrInfo> Resolve(std::string_view address) {
  std::string text(address);
  if (text.find(':') == std::string::npos) text = "127.0.0.1:" + text;
  size_t colon = text.rfind(':');
  std::string host = text.substr(0, colon), port = text.substr(colon + 1);
  if (host.size() > 1 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty() || port.empty()) {
    return base::Fail(base::Code::kInvalidArgument, "want ADDR:PORT, got " + text);
  }
  // getaddrinfo takes "99999" and wraps it (to 34463): only 0-65535 in decimal is a port.
  if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(port) > 65535) {
    return base::Fail(base::Code::kInvalidArgument,
                      text + ": port '" + port + "' is not a number in 0-65535");
  }
  addrinfo hints{};
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    // A name would tie where the CA listens to the resolver at start: refused, not resolved.
    if (rc == EAI_NONAME) {
      return base::Fail(base::Code::kInvalidArgument,
                        text + ": '" + host +
                            "' is not a numeric IP address (names are not resolved: use e.g. "
                            "127.0.0.1 or [::1])");
    }
    return base::Fail(base::Code::kInvalidArgument, text + ": " + gai_strerror(rc));
  }
  return AddrInfo(res);
}

}  // namespace

base::Result<void> CheckListenAddress(std::string_view address) {
  auto res = Resolve(address);
  if (!res) return std::unexpected(res.error());
  return {};
}

base::Result<base::UniqueFd> ListenTcp(std::string_view address, int backlog) {
  auto resolved = Resolve(address);
  if (!resolved) return std::unexpected(resolved.error());
  const addrinfo* res = resolved->get();
  base::UniqueFd fd(::socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  int one = 1;
  if (fd) ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (!fd || ::bind(fd.get(), res->ai_addr, res->ai_addrlen) != 0 ||
      ::listen(fd.get(), backlog) != 0) {
    std::string err = std::strerror(errno);
    return base::Fail(base::Code::kIo, "listen on " + std::string(address) + ": " + err);
  }
  return fd;
}

std::string LocalAddress(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "?";
  return FormatAddress(ss);
}

base::Result<void> AdoptListeningSocket(int fd) {
  int type = 0, listening = 0, domain = 0;
  socklen_t len = sizeof type;
  if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) {
    return base::Fail(base::Code::kInvalidArgument,
                      "fd " + std::to_string(fd) + " is not a socket: " + std::strerror(errno));
  }
  len = sizeof listening;
  ::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len);
  len = sizeof domain;
  ::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len);
  if (type != SOCK_STREAM || !listening || (domain != AF_INET && domain != AF_INET6)) {
    return base::Fail(base::Code::kInvalidArgument,
                      "fd " + std::to_string(fd) +
                          " is not a listening TCP socket (want ListenStream= with an IP address "
                          "or port)");
  }
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0 ||
      ::fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
    return base::Fail(base::Code::kIo,
                      "fcntl on fd " + std::to_string(fd) + ": " + std::strerror(errno));
  }
  return {};
}

}  // namespace provisiond
