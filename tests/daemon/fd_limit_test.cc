// fd_limit_test.cc — the soft descriptor limit raised to the hard one (daemon/fd_limit.h).
#include "daemon/fd_limit.h"

#include <doctest/doctest.h>
#include <sys/resource.h>

using namespace provisiond;

TEST_CASE("RaiseFdLimit raises a lower soft limit to the hard one, and leaves an equal one") {
  rlimit saved{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved) == 0);
  REQUIRE(saved.rlim_max > 64);
  rlimit low = saved;
  low.rlim_cur = 64;
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &low) == 0);
  const FdLimit raised = RaiseFdLimit();
  rlimit now{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &now) == 0);
  CHECK(raised.raised);
  CHECK(raised.error == 0);
  CHECK(raised.soft == saved.rlim_max);
  CHECK(raised.hard == saved.rlim_max);
  CHECK(now.rlim_cur == saved.rlim_max);
  const FdLimit again = RaiseFdLimit();  // soft == hard: nothing to do
  CHECK_FALSE(again.raised);
  CHECK(again.soft == saved.rlim_max);
  ::setrlimit(RLIMIT_NOFILE, &saved);
}
