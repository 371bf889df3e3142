// post_queue_test.cc — a worker's inbox and loop descriptors are checked when made: out of fds or
// given a descriptor epoll refuses, creation is an error value, not a worker that never wakes.
#include "daemon/post_queue.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <string>

#include "base/unique_fd.h"
#include "daemon/net.h"
#include "daemon/worker.h"

namespace provisiond {
namespace {

// Lowers RLIMIT_NOFILE so that no new descriptor can be made (the limit is the lowest free fd
// number), and restores it when it goes.
class NoMoreFds {
 public:
  NoMoreFds() {
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved_) == 0);
    base::UniqueFd probe(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    REQUIRE(probe);
    rlimit low = saved_;
    low.rlim_cur = static_cast<rlim_t>(probe.get());
    probe.reset();
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &low) == 0);
  }
  ~NoMoreFds() { ::setrlimit(RLIMIT_NOFILE, &saved_); }
  NoMoreFds(const NoMoreFds&) = delete;
  NoMoreFds& operator=(const NoMoreFds&) = delete;

 private:
  rlimit saved_{};
};

}  // namespace

TEST_CASE("a PostQueue runs what was posted, on the caller's turn") {
  auto queue = PostQueue::Create();
  REQUIRE(queue.has_value());
  int ran = 0;
  (*queue)->Post([&ran] { ++ran; });
  (*queue)->Post([&ran] { ++ran; });
  CHECK(ran == 0);
  (*queue)->RunAll();
  CHECK(ran == 2);
}

TEST_CASE("a PostQueue that cannot get its eventfd is an error") {
  NoMoreFds limit;
  auto queue = PostQueue::Create();
  REQUIRE_FALSE(queue.has_value());
  CHECK(queue.error().code == base::Code::kIo);
  CHECK(queue.error().detail.rfind("eventfd: ", 0) == 0);
}

TEST_CASE("a worker's loop descriptors: made and watching, or an error naming the call") {
  auto inbox = PostQueue::Create();
  REQUIRE(inbox.has_value());
  SUBCASE("made, with a real listening socket") {
    auto listen = ListenTcp("127.0.0.1:0", 4);
    REQUIRE(listen.has_value());
    auto fds = LoopFds::Create(listen->get(), (*inbox)->fd());
    REQUIRE(fds.has_value());
    CHECK(static_cast<bool>(fds->epoll));
    CHECK(static_cast<bool>(fds->stop));
  }
  SUBCASE("epoll refuses a descriptor it cannot watch") {
    auto fds = LoopFds::Create(/*listen_fd=*/-1, (*inbox)->fd());
    REQUIRE_FALSE(fds.has_value());
    CHECK(fds.error().code == base::Code::kIo);
    CHECK(fds.error().detail.rfind("epoll_ctl: ", 0) == 0);
  }
  SUBCASE("out of descriptors") {
    auto listen = ListenTcp("127.0.0.1:0", 4);
    REQUIRE(listen.has_value());
    NoMoreFds limit;
    auto fds = LoopFds::Create(listen->get(), (*inbox)->fd());
    REQUIRE_FALSE(fds.has_value());
    CHECK(fds.error().code == base::Code::kIo);
    CHECK(fds.error().detail.rfind("epoll_create1: ", 0) == 0);
  }
}

TEST_CASE("a worker that gets its epoll set but not its stop eventfd is an error") {
  auto inbox = PostQueue::Create();
  REQUIRE(inbox.has_value());
  auto listen = ListenTcp("127.0.0.1:0", 4);
  REQUIRE(listen.has_value());
  // Room for exactly one more descriptor: the epoll set gets it, the eventfd does not.
  base::UniqueFd spare(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  REQUIRE(spare);
  NoMoreFds limit;
  const int room = spare.get();
  spare.reset();
  REQUIRE(room >= 0);
  auto fds = LoopFds::Create(listen->get(), (*inbox)->fd());
  REQUIRE_FALSE(fds.has_value());
  CHECK(fds.error().detail.rfind("eventfd: ", 0) == 0);
}

}  // namespace provisiond
