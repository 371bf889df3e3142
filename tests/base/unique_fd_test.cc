// unique_fd_test.cc — base::UniqueFd closes what it owns exactly once and hands ownership over.
#include "base/unique_fd.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace {

int OpenNull() { return ::open("/dev/null", O_RDONLY | O_CLOEXEC); }

// True if fd is not an open descriptor of this process.
bool Closed(int fd) { return ::fcntl(fd, F_GETFD) == -1 && errno == EBADF; }

}  // namespace

TEST_CASE("the destructor closes the descriptor") {
  int raw = OpenNull();
  REQUIRE(raw >= 0);
  {
    base::UniqueFd fd(raw);
    CHECK(static_cast<bool>(fd));
    CHECK(fd.get() == raw);
    CHECK_FALSE(Closed(raw));
  }
  CHECK(Closed(raw));
}

TEST_CASE("a default UniqueFd holds nothing") {
  base::UniqueFd fd;
  CHECK_FALSE(static_cast<bool>(fd));
  CHECK(fd.get() == -1);
  CHECK(fd.Close());  // nothing to close is not an error
}

TEST_CASE("moving transfers ownership and the moved-from one closes nothing") {
  int raw = OpenNull();
  REQUIRE(raw >= 0);
  base::UniqueFd a(raw);
  base::UniqueFd b(std::move(a));
  CHECK(a.get() == -1);  // NOLINT(bugprone-use-after-move): checking the moved-from state
  CHECK(b.get() == raw);
  {
    base::UniqueFd c;
    c = std::move(b);
    CHECK(b.get() == -1);  // NOLINT(bugprone-use-after-move)
    CHECK_FALSE(Closed(raw));
  }
  CHECK(Closed(raw));
}

TEST_CASE("move-assigning over a held descriptor closes the old one") {
  int first = OpenNull(), second = OpenNull();
  REQUIRE(first >= 0);
  REQUIRE(second >= 0);
  base::UniqueFd a(first);
  a = base::UniqueFd(second);
  CHECK(Closed(first));
  CHECK(a.get() == second);
}

TEST_CASE("release gives the descriptor up without closing it") {
  int raw = OpenNull();
  REQUIRE(raw >= 0);
  int released = -1;
  {
    base::UniqueFd fd(raw);
    released = fd.release();
    CHECK(fd.get() == -1);
    CHECK_FALSE(static_cast<bool>(fd));
  }
  CHECK(released == raw);
  CHECK_FALSE(Closed(raw));
  base::UniqueFd owner(released);  // closes it at the end of the test
}

TEST_CASE("reset closes the old descriptor and takes the new one") {
  int first = OpenNull(), second = OpenNull();
  REQUIRE(first >= 0);
  REQUIRE(second >= 0);
  base::UniqueFd fd(first);
  fd.reset(second);
  CHECK(Closed(first));
  CHECK(fd.get() == second);
  fd.reset();
  CHECK(Closed(second));
  CHECK(fd.get() == -1);
}

TEST_CASE("Close closes now and reports success") {
  int raw = OpenNull();
  REQUIRE(raw >= 0);
  base::UniqueFd fd(raw);
  CHECK(fd.Close());
  CHECK(Closed(raw));
  CHECK(fd.get() == -1);
}
