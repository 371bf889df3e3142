// stats.cc — percentile and histogram arithmetic for stats.h.
#include "device-sim/stats.h"

#include <algorithm>
#include <cmath>

namespace devsim {

size_t HistogramBucket(double ms) {
  const auto it = std::ranges::lower_bound(kHistogramBoundsMs, ms);
  return static_cast<size_t>(it - kHistogramBoundsMs.begin());
}

double Percentile(std::span<const double> sorted, double p) {
  if (sorted.empty()) return 0;
  const double clamped = std::clamp(p, 0.0, 100.0);
  // rank = ceil(p/100 * n), 1-based; at least 1.
  const auto n = static_cast<double>(sorted.size());
  size_t rank = static_cast<size_t>(std::ceil(clamped / 100.0 * n - 1e-9));
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

void LatencyStats::Merge(const LatencyStats& other) {
  samples_.insert(samples_.end(), other.samples_.begin(), other.samples_.end());
}

LatencySummary LatencyStats::Summarize() const {
  LatencySummary out;
  std::vector<double> sorted = samples_;
  std::ranges::sort(sorted);
  out.count = sorted.size();
  if (sorted.empty()) return out;
  out.p50 = Percentile(sorted, 50);
  out.p90 = Percentile(sorted, 90);
  out.p99 = Percentile(sorted, 99);
  out.max = sorted.back();
  double sum = 0;
  for (double ms : sorted) {
    sum += ms;
    ++out.histogram[HistogramBucket(ms)];
  }
  out.mean = sum / static_cast<double>(sorted.size());
  return out;
}

}  // namespace devsim
