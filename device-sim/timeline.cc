// timeline.cc — per-second event counts of a run (timeline.h).
#include "device-sim/timeline.h"

#include <algorithm>

namespace devsim {

void Timeline::Note(Event event, Clock::time_point now) {
  const auto since = std::chrono::duration_cast<std::chrono::seconds>(now - start_).count();
  const size_t second = std::min<size_t>(static_cast<size_t>(std::max<int64_t>(0, since)),
                                         kSeconds - 1);
  counts_[static_cast<size_t>(event)][second].fetch_add(1, std::memory_order_relaxed);
}

void Timeline::NoteRetryAfter(int seconds) {
  const size_t at = static_cast<size_t>(std::clamp(seconds, 0, kMaxRetryAfter));
  retry_after_[at].fetch_add(1, std::memory_order_relaxed);
}

Timeline::Counts Timeline::Snapshot() const {
  Counts out;
  size_t last = 0;  // one past the last second with any event
  for (const auto& row : counts_) {
    for (size_t s = 0; s < kSeconds; ++s) {
      if (row[s].load(std::memory_order_relaxed) != 0) last = std::max(last, s + 1);
    }
  }
  for (size_t e = 0; e < kEvents; ++e) {
    for (size_t s = 0; s < last; ++s) {
      out.per_second[e].push_back(counts_[e][s].load(std::memory_order_relaxed));
    }
  }
  for (int v = 0; v <= kMaxRetryAfter; ++v) {
    if (auto n = retry_after_[static_cast<size_t>(v)].load(std::memory_order_relaxed)) {
      out.retry_after[v] = n;
    }
  }
  return out;
}

const char* TimelineEventName(Timeline::Event event) {
  switch (event) {
    case Timeline::Event::kIssued: return "issued";
    case Timeline::Event::kRetryStatus: return "retry_status";
    case Timeline::Event::kConnectRetry: return "connect_retries";
  }
  return "?";
}

}  // namespace devsim
