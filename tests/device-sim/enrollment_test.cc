// enrollment_test.cc — the enrollment state machine's failure paths against tiny fake servers on
// 127.0.0.1 (refused connect, a fatal alert answering the ClientHello, a silent peer, a hang-up),
// driven by a real Poller the way a worker drives it.
#include "device-sim/enrollment.h"

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <functional>
#include <thread>

#include "ca/cert.h"
#include "device-sim/bad_actors.h"

namespace devsim {
namespace {

using std::chrono::milliseconds;

// Listens on 127.0.0.1:<free port>; a thread accepts one connection (waiting at most 5 s) and
// hands it to `behaviour`.
class FakeServer {
 public:
  explicit FakeServer(std::function<void(int)> behaviour)
      : listener_(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    REQUIRE(bind(listener_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(listen(listener_.get(), 4) == 0);
    REQUIRE(getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this, behaviour] {
      pollfd p{listener_.get(), POLLIN, 0};
      if (poll(&p, 1, 5000) != 1) return;
      base::UniqueFd conn(accept(listener_.get(), nullptr, nullptr));
      if (conn.get() >= 0) behaviour(conn.get());
    });
  }
  ~FakeServer() { thread_.join(); }
  ServerAddress address() const { return *ResolveServer("127.0.0.1", std::to_string(port_)); }

 private:
  base::UniqueFd listener_;
  int port_ = 0;
  std::thread thread_;
};

// Reads what the client sends until it goes quiet for `quiet` or closes.
void Drain(int fd, int quiet_ms) {
  std::array<char, 4096> buf;
  pollfd p{fd, POLLIN, 0};
  while (poll(&p, 1, quiet_ms) == 1 && recv(fd, buf.data(), buf.size(), 0) > 0) {
  }
}

Outcome RunEnrollment(const ServerAddress& server, Clock::duration step_timeout) {
  constexpr std::array<unsigned char, 4> kSeed = {'e', 'n', 'r', 'l'};
  auto drbg = ca::Drbg::ForTesting(kSeed);
  auto anchor = MakeRogueCa(1'780'000'000, drbg->rng());
  REQUIRE(anchor);
  auto trust = ca::ParseCertificates(anchor->cert_pem);
  REQUIRE(trust);
  auto poller = Poller::Create();
  REQUIRE(poller);
  std::minstd_rand jitter(1);
  const TlsSettings tls;
  const EstTarget target{"localhost:1", ""};
  const EnrollEnv env{&server, &tls,         &target, (*trust)->get(), drbg->rng(), poller->get(),
                      &jitter, step_timeout, 0};
  Enrollment enrollment(env, Exchange{EstOperation::kEnroll, "dev-1", {}, {0x30, 0x00}, {}});
  enrollment.Start(Clock::now());
  const auto give_up = Clock::now() + std::chrono::seconds(10);
  while (!enrollment.done() && Clock::now() < give_up) {
    (*poller)->Dispatch(10);
    enrollment.OnTimer(Clock::now());
  }
  REQUIRE(enrollment.done());
  return enrollment.outcome();
}

TEST_CASE("a refused connect is an error naming the server") {
  ServerAddress closed;
  {
    FakeServer server([](int) {});
    closed = server.address();
    base::UniqueFd poke(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));  // let the thread finish
    connect(poke.get(), reinterpret_cast<const sockaddr*>(&closed.addr), closed.len);
  }
  const Outcome outcome = RunEnrollment(closed, milliseconds(2000));
  CHECK(outcome.kind == OutcomeKind::kError);
  CHECK(outcome.detail.starts_with("connect 127.0.0.1:"));
  CHECK(outcome.detail.find("refused") != std::string::npos);
}

TEST_CASE("a fatal alert answering the ClientHello is mapped with its step") {
  FakeServer server([](int fd) {
    Drain(fd, 200);
    const unsigned char alert[] = {0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 48};  // fatal unknown_ca
    send(fd, alert, sizeof alert, MSG_NOSIGNAL);
    Drain(fd, 500);
  });
  const Outcome outcome = RunEnrollment(server.address(), milliseconds(2000));
  CHECK(outcome.kind == OutcomeKind::kAlert);
  CHECK(outcome.code == 48);
  CHECK(outcome.step == "handshake");
  CHECK(Describe(outcome) == "tls: handshake: fatal alert 48 unknown_ca");
}

TEST_CASE("a silent server runs into the step deadline") {
  FakeServer server([](int fd) { Drain(fd, 3000); });
  const Outcome outcome = RunEnrollment(server.address(), milliseconds(200));
  CHECK(outcome.kind == OutcomeKind::kError);
  CHECK(outcome.detail == "timeout: handshake after 0.2s");
}

TEST_CASE("a server that hangs up mid-handshake is a TLS error, not an alert") {
  FakeServer server([](int fd) { Drain(fd, 100); });
  const Outcome outcome = RunEnrollment(server.address(), milliseconds(2000));
  CHECK(outcome.kind == OutcomeKind::kError);
  CHECK(outcome.detail.starts_with("tls: handshake: "));
}

}  // namespace
}  // namespace devsim
