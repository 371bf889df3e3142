// flood_budget.h — bounds what peers that have not authenticated can make the daemon write:
// every string they choose is cut to kMaxPeerText bytes, and their events are written in full
// at most kUnauthPerSecond a second (after a burst of kUnauthBurst), daemon-wide; the rest are
// counted and summed up in one line (and one enrollment_events row) a second. docs/security.md
// states the resulting bounds on the store and the journal.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace db {
class Writer;
}

namespace provisiond {

// Longest peer-chosen string (subject, issuer, reason) written to a row or a log line.
inline constexpr size_t kMaxPeerText = 256;
// Unauthenticated events (failed or aborted handshakes, timeouts before authentication,
// refusals of peers without a certificate) written in full, daemon-wide.
inline constexpr double kUnauthPerSecond = 5;
inline constexpr double kUnauthBurst = 20;

// `text` if it fits in `max` bytes, else its first bytes (cut at a UTF-8 character boundary)
// and "...(N more bytes)", the whole at most max + 32 bytes.
std::string BoundedPeerText(std::string_view text, size_t max = kMaxPeerText);

// A token bucket that counts what it refuses, for a summary at most once an interval.
// Thread-safe. With per_second = burst = 0 nothing is admitted: every event is only counted.
class FloodBudget {
 public:
  using Clock = std::chrono::steady_clock;
  FloodBudget(double per_second, double burst,
              Clock::duration interval = std::chrono::seconds(1));

  // true: write this event in full. false: it is only counted; `row` says that it would have
  // written an enrollment_events row.
  bool Admit(bool row, Clock::time_point now = Clock::now());

  struct Suppressed {
    uint64_t events = 0;  // not written in full (log lines)
    uint64_t rows = 0;    // of them, those that would have written a row
  };
  // The counts since the last summary if any and if `interval` has passed since it (the first
  // comes at once); they are then reset.
  std::optional<Suppressed> TakeSummaryIfDue(Clock::time_point now = Clock::now());

 private:
  const double per_second_, burst_;
  const Clock::duration interval_;
  std::mutex mu_;
  double tokens_;
  Clock::time_point refilled_{};
  Clock::time_point summarized_{};
  bool summarized_once_ = false;
  Suppressed suppressed_;
};

// The daemon-wide budget for unauthenticated events (kUnauthPerSecond, kUnauthBurst).
FloodBudget& UnauthenticatedBudget();

// If the budget's summary is due: one "unauthenticated_suppressed" line and, if rows were
// suppressed, one enrollment_events row saying how many. Called by every worker's sweep.
void ReportSuppressedUnauthenticated(db::Writer& writer);

}  // namespace provisiond
