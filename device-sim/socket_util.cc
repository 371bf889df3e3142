// socket_util.cc — getaddrinfo, non-blocking connect and the file limit.
#include "device-sim/socket_util.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace devsim {

base::Result<ServerAddress> ResolveServer(const std::string& host, const std::string& port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  const int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &list);
  if (rc != 0 || list == nullptr) {
    return base::Fail(base::Code::kIo, "resolve " + host + ":" + port + ": " + gai_strerror(rc));
  }
  ServerAddress out;
  std::memcpy(&out.addr, list->ai_addr, list->ai_addrlen);
  out.len = list->ai_addrlen;
  out.text = host + ":" + port;
  freeaddrinfo(list);
  return out;
}

base::Result<base::UniqueFd> StartConnect(const ServerAddress& server) {
  base::UniqueFd fd(socket(server.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) {
    return base::Fail(base::Code::kIo, std::string("socket: ") + std::strerror(errno));
  }
  const int one = 1;
  setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&server.addr), server.len) != 0 &&
      errno != EINPROGRESS) {
    return base::Fail(base::Code::kIo, "connect " + server.text + ": " + std::strerror(errno));
  }
  return fd;
}

int ConnectProgress(int fd) {
  sockaddr_storage peer{};
  socklen_t peer_len = sizeof peer;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_len) == 0) return 0;
  int error = 0;
  socklen_t len = sizeof error;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0) return errno;
  return error == 0 || error == EALREADY ? EINPROGRESS : error;
}

long RaiseFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return -1;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
    getrlimit(RLIMIT_NOFILE, &limit);
  }
  return static_cast<long>(limit.rlim_cur);
}

}  // namespace devsim
