// socket_util.h — the server address and non-blocking TCP sockets the event loops use.
#pragma once

#include <sys/socket.h>

#include <string>

#include "ca/error.h"

namespace devsim {

struct ServerAddress {
  sockaddr_storage addr{};
  socklen_t len = 0;
  std::string text;  // "HOST:PORT" as given, for messages
};

// Resolves HOST and PORT (numeric or names) to the first TCP address. kIo with getaddrinfo's
// message.
ca::Result<ServerAddress> ResolveServer(const std::string& host, const std::string& port);

// Owns a file descriptor; closes it on destruction (which also removes it from any epoll set).
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd();
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.Release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  int Release();

 private:
  int fd_ = -1;
};

// A non-blocking, close-on-exec TCP socket with TCP_NODELAY whose connect() has been started
// (completed or EINPROGRESS). kIo "connect HOST:PORT: <strerror>" if it failed at once (e.g.
// EADDRNOTAVAIL when the local ports run out).
ca::Result<UniqueFd> StartConnect(const ServerAddress& server);

// Where a started connect stands: 0 once connected, EINPROGRESS while pending, else the errno
// it failed with. (SO_ERROR alone is 0 both while pending and once connected.)
int ConnectProgress(int fd);

// Raises the soft RLIMIT_NOFILE to the hard limit; returns the new soft limit.
long RaiseFileLimit();

}  // namespace devsim
