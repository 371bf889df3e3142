// flood_budget_test.cc — the unauthenticated-event budget and the cut of peer-chosen strings.
#include "daemon/flood_budget.h"

#include <doctest/doctest.h>

#include <string>

using namespace provisiond;
using namespace std::chrono_literals;

TEST_CASE("peer text is cut at kMaxPeerText with a marker, not inside a UTF-8 character") {
  CHECK(BoundedPeerText("CN=dev-1") == "CN=dev-1");
  std::string big(13700, 'x');
  std::string cut = BoundedPeerText(big);
  CHECK(cut.size() <= kMaxPeerText + 32);
  CHECK(cut.ends_with("...(13444 more bytes)"));
  // 255 ASCII bytes then a 2-byte character straddling the cut: the character goes whole.
  std::string utf8 = std::string(255, 'a') + "\xC3\xA9" + std::string(10, 'b');
  CHECK(BoundedPeerText(utf8) == std::string(255, 'a') + "...(12 more bytes)");
}

TEST_CASE("the budget admits its burst then its rate, and sums up the rest once an interval") {
  FloodBudget budget(5, 20);
  auto t0 = FloodBudget::Clock::time_point{} + 1000s;
  int admitted = 0;
  for (int i = 0; i < 300; ++i) admitted += budget.Admit(/*row=*/i % 2 == 0, t0);
  CHECK(admitted == 20);
  auto s = budget.TakeSummaryIfDue(t0);
  REQUIRE(s);
  CHECK(s->events == 280);
  CHECK(s->rows == 140);
  CHECK_FALSE(budget.Admit(true, t0 + 100ms));  // 0.5 token back
  CHECK_FALSE(budget.TakeSummaryIfDue(t0 + 500ms));  // not a second yet
  CHECK(budget.TakeSummaryIfDue(t0 + 1s)->events == 1);
  CHECK_FALSE(budget.TakeSummaryIfDue(t0 + 5s));  // nothing suppressed since
  admitted = 0;
  for (int i = 0; i < 100; ++i) admitted += budget.Admit(true, t0 + 11s);  // 10 s: full again
  CHECK(admitted == 20);
}

TEST_CASE("a zero budget only counts (the worker's connection_refused lines)") {
  FloodBudget refused(0, 0);
  auto t0 = FloodBudget::Clock::time_point{} + 1000s;
  CHECK_FALSE(refused.Admit(false, t0));
  CHECK(refused.TakeSummaryIfDue(t0)->events == 1);  // the first summary comes at once
  CHECK_FALSE(refused.Admit(false, t0 + 10ms));
  CHECK_FALSE(refused.Admit(false, t0 + 20ms));
  CHECK_FALSE(refused.TakeSummaryIfDue(t0 + 30ms));
  CHECK(refused.TakeSummaryIfDue(t0 + 1s)->events == 2);
}
