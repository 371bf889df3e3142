// stats.h — latency samples of a scenario class: nearest-rank percentiles and a log-spaced
// (1-2-5 series) histogram, in milliseconds. Pure.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

namespace devsim {

// Upper bounds (inclusive) of the histogram buckets in ms; one more bucket holds everything above.
inline constexpr std::array<double, 18> kHistogramBoundsMs = {
    1,    2,    5,    10,    20,    50,    100,    200,    500,
    1000, 2000, 5000, 10000, 20000, 50000, 100000, 200000, 500000};
inline constexpr size_t kHistogramBuckets = kHistogramBoundsMs.size() + 1;

// Index of the bucket that holds `ms`: the first bound >= ms, else the overflow bucket.
size_t HistogramBucket(double ms);

// Nearest-rank percentile of ascending `sorted` samples: the smallest sample such that at least
// p percent of the samples are <= it. p in (0, 100]; 0 for no samples.
double Percentile(std::span<const double> sorted, double p);

struct LatencySummary {
  uint64_t count = 0;
  double p50 = 0, p90 = 0, p99 = 0, max = 0, mean = 0;
  std::array<uint64_t, kHistogramBuckets> histogram{};
};

class LatencyStats {
 public:
  void Add(double ms) { samples_.push_back(ms); }
  void Merge(const LatencyStats& other);
  size_t count() const { return samples_.size(); }
  LatencySummary Summarize() const;

 private:
  std::vector<double> samples_;  // in arrival order; Summarize sorts a copy
};

}  // namespace devsim
