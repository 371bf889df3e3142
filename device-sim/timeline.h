// timeline.h — what happened in each second of a run, across all workers: certificates issued,
// 503/429 answers, connection failures retried (--retry-connections), and the Retry-After values
// the server sent. For the storm benchmark's curve; lock-free counters, read after the run.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <vector>

namespace devsim {

class Timeline {
 public:
  using Clock = std::chrono::steady_clock;
  enum class Event { kIssued, kRetryStatus, kConnectRetry };
  static constexpr size_t kEvents = 3;
  // Seconds tracked; later events count in the last second.
  static constexpr size_t kSeconds = 3600;
  // Retry-After values tracked one by one; larger ones count as this.
  static constexpr int kMaxRetryAfter = 300;

  explicit Timeline(Clock::time_point start) : start_(start) {}
  // Moves the start (before any Note: counts are not shifted).
  void Restart(Clock::time_point start) { start_ = start; }
  void Note(Event event, Clock::time_point now);
  void NoteRetryAfter(int seconds);

  struct Counts {
    // Per event, one count per second since the start, up to the last second with any event.
    std::array<std::vector<uint64_t>, kEvents> per_second;
    std::map<int, uint64_t> retry_after;  // value (seconds) -> how many answers carried it
  };
  Counts Snapshot() const;

 private:
  Clock::time_point start_;
  std::array<std::array<std::atomic<uint32_t>, kSeconds>, kEvents> counts_{};
  std::array<std::atomic<uint32_t>, kMaxRetryAfter + 1> retry_after_{};
};

const char* TimelineEventName(Timeline::Event event);

}  // namespace devsim
