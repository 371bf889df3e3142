// stats_test.cc — nearest-rank percentiles, the 1-2-5 histogram and tally merging.
#include "device-sim/stats.h"

#include <doctest/doctest.h>

#include <numeric>

#include "device-sim/tally.h"

namespace devsim {
namespace {

TEST_CASE("nearest-rank percentiles of 1..100") {
  std::vector<double> v(100);
  std::iota(v.begin(), v.end(), 1.0);
  CHECK(Percentile(v, 50) == 50);
  CHECK(Percentile(v, 90) == 90);
  CHECK(Percentile(v, 99) == 99);
  CHECK(Percentile(v, 100) == 100);
  CHECK(Percentile(v, 0.5) == 1);
}

TEST_CASE("percentiles of few samples pick a real sample") {
  const std::vector<double> one = {7};
  CHECK(Percentile(one, 50) == 7);
  CHECK(Percentile(one, 99) == 7);
  const std::vector<double> four = {1, 2, 3, 4};
  CHECK(Percentile(four, 50) == 2);
  CHECK(Percentile(four, 75) == 3);
  CHECK(Percentile(four, 76) == 4);
  CHECK(Percentile(std::vector<double>{}, 50) == 0);
}

TEST_CASE("histogram buckets are inclusive upper bounds with an overflow bucket") {
  CHECK(HistogramBucket(0) == 0);
  CHECK(HistogramBucket(1) == 0);
  CHECK(HistogramBucket(1.01) == 1);
  CHECK(HistogramBucket(2) == 1);
  CHECK(HistogramBucket(4.9) == 2);
  CHECK(HistogramBucket(1000) == 9);
  CHECK(HistogramBucket(500000) == kHistogramBoundsMs.size() - 1);
  CHECK(HistogramBucket(500001) == kHistogramBoundsMs.size());
  CHECK(kHistogramBuckets == kHistogramBoundsMs.size() + 1);
}

TEST_CASE("a summary sorts, averages and counts every sample once") {
  LatencyStats stats;
  for (double ms : {30.0, 10.0, 20.0, 1e9}) stats.Add(ms);
  const LatencySummary s = stats.Summarize();
  CHECK(s.count == 4);
  CHECK(s.p50 == 20);
  CHECK(s.max == 1e9);
  CHECK(s.mean == doctest::Approx((10 + 20 + 30 + 1e9) / 4));
  uint64_t total = 0;
  for (uint64_t c : s.histogram) total += c;
  CHECK(total == 4);
  CHECK(s.histogram[kHistogramBuckets - 1] == 1);
  CHECK(LatencyStats().Summarize().count == 0);
}

TEST_CASE("merging tallies adds counts, outcomes and samples; failure lines are capped") {
  RunTally a;
  RunTally b;
  a.scenarios[Index(Scenario::kGood)].ok = 3;
  a.scenarios[Index(Scenario::kGood)].latency.Add(5);
  b.scenarios[Index(Scenario::kGood)].ok = 2;
  b.scenarios[Index(Scenario::kGood)].latency.Add(7);
  b.scenarios[Index(Scenario::kReplay)].failed = 1;
  b.scenarios[Index(Scenario::kReplay)].unexpected["certificate issued"] = 1;
  a.AddFailure({"dev-1", Scenario::kGood, "x"}, 1);
  b.AddFailure({"dev-2", Scenario::kReplay, "certificate issued"}, 1);
  b.replay_setups = 1;
  a.Merge(std::move(b), 1);
  CHECK(a.ok() == 5);
  CHECK(a.failed() == 1);
  CHECK(a.replay_setups == 1);
  CHECK(a.scenarios[Index(Scenario::kGood)].latency.count() == 2);
  CHECK(a.scenarios[Index(Scenario::kReplay)].unexpected.at("certificate issued") == 1);
  CHECK(a.failures.size() == 1);
  CHECK(a.failures_not_listed == 1);
}

}  // namespace
}  // namespace devsim
