// mix_test.cc — --mix parsing and the smooth weighted round-robin schedule.
#include "device-sim/mix.h"

#include <doctest/doctest.h>

namespace devsim {
namespace {

TEST_CASE("a full mix parses, in any order") {
  auto mix = ParseMix("replay=1,good=90,rogue-ca=3,no-cert=2,expired=2,bad-csr=2");
  REQUIRE(mix);
  CHECK(*mix == MixWeights{90, 3, 2, 2, 2, 1});
  CHECK(FormatMix(*mix) == "good=90,rogue-ca=3,no-cert=2,expired=2,bad-csr=2,replay=1");
}

TEST_CASE("unnamed classes weigh nothing; zero weights are allowed") {
  auto mix = ParseMix("good=100,replay=0");
  REQUIRE(mix);
  CHECK(*mix == kDefaultMix);
  CHECK(FormatMix(*mix) == "good=100");
}

TEST_CASE("bad mixes are refused with the item named") {
  for (const char* text : {"", "good", "good=", "good=x", "good=-1", "good=1.5", "good=1,",
                           "evil=3", "good=1,good=2", "good=0", "good=100001", "good= 1"}) {
    CAPTURE(text);
    auto mix = ParseMix(text);
    REQUIRE_FALSE(mix);
    CHECK(mix.error().code == base::Code::kInvalidArgument);
  }
  CHECK(ParseMix("evil=3").error().detail.find("evil") != std::string::npos);
  CHECK(ParseMix("good=1,good=2").error().detail.find("twice") != std::string::npos);
}

TEST_CASE("scenario names round-trip") {
  for (Scenario s : kAllScenarios) CHECK(ParseScenario(ScenarioName(s)) == s);
  CHECK_FALSE(ParseScenario("Good").has_value());
}

TEST_CASE("every period holds each class exactly its weight") {
  const MixSchedule schedule(MixWeights{80, 5, 5, 4, 4, 2});
  REQUIRE(schedule.period() == 100);
  for (uint64_t start : {uint64_t{0}, uint64_t{100}, uint64_t{700}}) {
    std::array<int, kScenarioCount> counts{};
    for (uint64_t i = start; i < start + 100; ++i) ++counts[Index(schedule.At(i))];
    CHECK(counts == std::array<int, kScenarioCount>{80, 5, 5, 4, 4, 2});
  }
}

TEST_CASE("the schedule spreads rare classes out instead of bunching them") {
  const MixSchedule schedule(MixWeights{98, 0, 0, 0, 0, 2});
  CHECK(schedule.At(0) == Scenario::kGood);
  std::vector<uint64_t> replays;
  for (uint64_t i = 0; i < 100; ++i) {
    if (schedule.At(i) == Scenario::kReplay) replays.push_back(i);
  }
  REQUIRE(replays.size() == 2);
  CHECK(replays[1] - replays[0] >= 40);
}

TEST_CASE("planned counts for the fleet_mix end-to-end run") {
  const MixSchedule schedule(MixWeights{80, 5, 5, 4, 4, 2});
  CHECK(PlannedCounts(schedule, 200) == std::array<uint64_t, kScenarioCount>{160, 10, 10, 8, 8, 4});
  const auto partial = PlannedCounts(schedule, 150);
  uint64_t total = 0;
  for (uint64_t c : partial) total += c;
  CHECK(total == 150);
}

TEST_CASE("a single class is all there is") {
  const MixSchedule schedule(MixWeights{0, 0, 1, 0, 0, 0});
  for (uint64_t i = 0; i < 5; ++i) CHECK(schedule.At(i) == Scenario::kNoCert);
}

}  // namespace
}  // namespace devsim
