// socket_util.h — the server address and non-blocking TCP sockets the event loops use.
#pragma once

#include <sys/socket.h>

#include <string>

#include "base/error.h"
#include "base/unique_fd.h"

namespace devsim {

struct ServerAddress {
  sockaddr_storage addr{};
  socklen_t len = 0;
  std::string text;  // "HOST:PORT" as given, for messages
};

// Resolves HOST and PORT (numeric or names) to the first TCP address. kIo with getaddrinfo's
// message.
base::Result<ServerAddress> ResolveServer(const std::string& host, const std::string& port);

// A non-blocking, close-on-exec TCP socket with TCP_NODELAY whose connect() has been started
// (completed or EINPROGRESS). kIo "connect HOST:PORT: <strerror>" if it failed at once (e.g.
// EADDRNOTAVAIL when the local ports run out).
base::Result<base::UniqueFd> StartConnect(const ServerAddress& server);

// Where a started connect stands: 0 once connected, EINPROGRESS while pending, else the errno
// it failed with. (SO_ERROR alone is 0 both while pending and once connected.)
int ConnectProgress(int fd);

// Raises the soft RLIMIT_NOFILE to the hard limit; returns the new soft limit.
long RaiseFileLimit();

}  // namespace devsim
