// heap_return.h — when the daemon hands the free pages of its malloc arenas back to the kernel:
// once a burst of connections has drained (glibc keeps them otherwise; docs/benchmarks.md, Storm).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>

namespace provisiond {

// A burst of connections (a storm: 256 concurrent TLS handshakes) frees tens of KiB of handshake
// state per connection into the workers' glibc arenas. The free chunks lie between live ones, so
// glibc's own trimming (only at the top of a heap) keeps them resident: after a 2,000-device storm
// RSS stayed at 1.64x its level before, and malloc_trim(0) brought it back to 0.98x.
//
// The policy: the table has drained when at most a quarter of the peak number of open connections
// since the last return is still open; once it has stayed drained for `quiet` and at least
// `min_closed` connections closed since the last return, Due() answers true to one caller, which
// calls ReturnFreeHeap(). So a steady load (open near its peak) never trims, a trickle of
// enrollments trims at most once per `min_closed` of them, and a burst is handed back about
// `quiet` after it ends. Thread-safe: every worker notes its closes and asks at its sweeps.
class HeapReturn {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr uint64_t kDefaultMinClosed = 64;
  static constexpr Clock::duration kDefaultQuiet = std::chrono::seconds(1);

  explicit HeapReturn(uint64_t min_closed = kDefaultMinClosed,
                      Clock::duration quiet = kDefaultQuiet)
      : min_closed_(min_closed), quiet_(quiet) {}

  // `n` connections closed (any thread).
  void NoteClosed(uint64_t n = 1) { closed_.fetch_add(n, std::memory_order_relaxed); }
  // Whether the caller should return the free heap now, given the connections open daemon-wide;
  // true once per drained burst (the counts start again from then).
  bool Due(int open, Clock::time_point now);
  // Returns made so far.
  uint64_t returns() const { return returns_.load(std::memory_order_relaxed); }

 private:
  const uint64_t min_closed_;
  const Clock::duration quiet_;
  std::atomic<uint64_t> closed_{0};  // since the last return
  std::atomic<uint64_t> returns_{0};
  std::mutex mu_;
  int peak_ = 0;  // most connections open at a Due() since the last return
  std::optional<Clock::time_point> drained_since_;  // since when open has been <= peak / 4
};

// Hands every arena's free pages back to the kernel (malloc_trim(0)); the bytes of RSS given
// back, as /proc/self/statm saw it before and after (0 if it could not be read).
int64_t ReturnFreeHeap();

}  // namespace provisiond
