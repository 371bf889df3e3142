// side_http_test.cc — tests daemon/side_http.cc's lingering close (daemon/linger.h) over real
// loopback sockets: a client still sending a head that was refused 431 reads the 431 instead of a
// reset, and what it may still send is bounded in bytes and in time.
#include "daemon/side_http.h"

#include <doctest/doctest.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "daemon/linger.h"
#include "daemon/net.h"
#include "tests/daemon/loopback_http.h"

namespace provisiond {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// A side listener on 127.0.0.1:0 whose clients have `deadline`; every complete head gets a 200.
struct Listener {
  explicit Listener(milliseconds deadline) {
    auto fd = ListenTcp("127.0.0.1:0", 64);
    REQUIRE(fd.has_value());
    auto started = SideHttp::Start(
        std::move(*fd),
        [](std::string_view) { return SideResponse(200, "OK", "text/plain", "ok", false, ""); },
        "side-test", deadline);
    REQUIRE(started.has_value());
    http = std::move(*started);
    const std::string& address = http->address();
    port = std::stoi(address.substr(address.rfind(':') + 1));
  }
  std::unique_ptr<SideHttp> http;
  int port = 0;
};

// A connection whose blocking sends give up after 10 s (a test that fails does not hang).
int ConnectWithTimeout(int port) {
  const int fd = testhttp::Connect(port);
  timeval tv{.tv_sec = 10, .tv_usec = 0};
  REQUIRE(::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) == 0);
  REQUIRE(::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0);
  return fd;
}

bool SendAll(int fd, const std::string& data) {
  for (size_t at = 0; at < data.size();) {
    const ssize_t n = ::send(fd, data.data() + at, data.size() - at, MSG_NOSIGNAL);
    if (n <= 0) return false;
    at += static_cast<size_t>(n);
  }
  return true;
}

// Sends a head over SideHttp::kMaxRequestBytes, and waits until the listener has answered it.
int SendRefusedHead(int port) {
  const int fd = ConnectWithTimeout(port);
  REQUIRE(SendAll(fd, "GET /metrics HTTP/1.1\r\nX-Long: " + std::string(4096, 'a')));
  std::this_thread::sleep_for(milliseconds(300));
  return fd;
}

}  // namespace

TEST_CASE("a client still sending a head refused 431 reads the 431, not a reset") {
  Listener l(milliseconds(1500));
  for (int round = 0; round < 3; ++round) {
    CAPTURE(round);
    const int fd = SendRefusedHead(l.port);
    // Like curl: the rest of what it meant to send (64 KiB, well inside the bounds), then read.
    bool sent = true;
    for (int i = 0; i < 16 && sent; ++i) {
      sent = SendAll(fd, "X-More: " + std::string(4086, 'b') + "\r\n");
      std::this_thread::sleep_for(milliseconds(10));
    }
    CHECK_MESSAGE(sent, "send failed: errno ", errno);
    std::string answer;
    char buf[4096];
    ssize_t n;
    while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) answer.append(buf, static_cast<size_t>(n));
    CHECK_MESSAGE(n == 0, "recv failed: errno ", errno);
    CHECK(answer.rfind("HTTP/1.1 431 ", 0) == 0);
    ::close(fd);
  }
  // The slots were given back: a good request is still answered.
  CHECK(testhttp::Fetch(l.port, "GET /metrics HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 200", 0) == 0);
}

TEST_CASE("the lingering close is bounded: a flood by bytes, a trickle by time") {
  Listener l(milliseconds(1500));
  {
    const int fd = SendRefusedHead(l.port);
    const std::string chunk(64 * 1024, 'B');
    size_t sent = 0;
    while (sent < (size_t{1} << 30) && SendAll(fd, chunk)) sent += chunk.size();
    // kLingerMaxBytes discarded at most, plus what the two kernels' buffers hold.
    CHECK(sent < 32 * kLingerMaxBytes);
    ::close(fd);
  }
  {
    const int fd = SendRefusedHead(l.port);
    const auto start = Clock::now();
    while (Clock::now() - start < std::chrono::seconds(8) && SendAll(fd, std::string(64, 'C'))) {
      std::this_thread::sleep_for(milliseconds(100));
    }
    // Cut at min(kLingerTime, the listener's 1.5 s deadline) after the answer.
    CHECK(Clock::now() - start < std::chrono::seconds(4));
    ::close(fd);
  }
}

}  // namespace provisiond
