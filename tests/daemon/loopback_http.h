// loopback_http.h — test helpers for the plain-HTTP side listeners (/metrics, /crl): a TCP
// connection to 127.0.0.1:PORT, and one request whose whole answer is read until the server closes.
#pragma once

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <string>

namespace testhttp {

inline int Connect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  return fd;
}

inline std::string Fetch(int port, const std::string& request) {
  int fd = Connect(port);
  ssize_t sent = ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  (void)sent;
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return out;
}

}  // namespace testhttp
