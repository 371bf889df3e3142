// net.h — listening sockets for the side listeners (metrics) and for sockets handed over by
// systemd (socket activation): bind ADDR:PORT, name the address a socket is bound to, check an
// inherited descriptor is a listening TCP socket.
#pragma once

#include <sys/socket.h>

#include <string>
#include <string_view>

#include "base/error.h"
#include "base/unique_fd.h"
#include "daemon/cidr.h"

namespace provisiond {

// "127.0.0.1:43123" or "[::1]:43123".
std::string FormatAddress(const sockaddr_storage& address);

// Whether an accepted peer's address is in one of the ranges (cidr.h InAnyCidr).
bool PeerInAnyCidr(const std::vector<Cidr>& ranges, const sockaddr_storage& peer);

// Checks the "ADDR:PORT" syntax ListenTcp accepts, without binding. kInvalidArgument if bad.
base::Result<void> CheckListenAddress(std::string_view address);

// Binds and listens on "ADDR:PORT" ("[v6]:PORT"; a bare "PORT" means 127.0.0.1:PORT; port 0
// picks a free port). The socket is non-blocking and close-on-exec.
// kInvalidArgument for a malformed address, kIo if the bind or listen fails (naming errno).
base::Result<base::UniqueFd> ListenTcp(std::string_view address, int backlog);

// The address fd is bound to ("?" if getsockname fails).
std::string LocalAddress(int fd);

// Checks that fd (e.g. from systemd) is a listening TCP stream socket (IPv4 or IPv6) and makes
// it non-blocking and close-on-exec. kInvalidArgument names what is wrong with it.
base::Result<void> AdoptListeningSocket(int fd);

}  // namespace provisiond
