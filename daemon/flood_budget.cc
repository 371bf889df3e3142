// flood_budget.cc — the unauthenticated-event budget (see flood_budget.h).
#include "daemon/flood_budget.h"

#include <algorithm>
#include <ctime>
#include <utility>

#include "ca/encoding.h"
#include "daemon/events.h"
#include "daemon/log.h"
#include "daemon/metrics.h"

namespace provisiond {

std::string BoundedPeerText(std::string_view text, size_t max) {
  if (text.size() <= max) return std::string(text);
  size_t cut = max;
  // Back up over UTF-8 continuation bytes (10xxxxxx) so no character is split.
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return std::string(text.substr(0, cut)) + "...(" + std::to_string(text.size() - cut) +
         " more bytes)";
}

FloodBudget::FloodBudget(double per_second, double burst, Clock::duration interval)
    : per_second_(per_second), burst_(burst), interval_(interval), tokens_(burst) {}

bool FloodBudget::Admit(bool row, Clock::time_point now) {
  std::lock_guard lock(mu_);
  if (refilled_ != Clock::time_point{}) {
    const double elapsed = std::chrono::duration<double>(now - refilled_).count();
    tokens_ = std::min(burst_, tokens_ + std::max(0.0, elapsed) * per_second_);
  }
  refilled_ = now;
  if (tokens_ >= 1.0) {
    tokens_ -= 1.0;
    return true;
  }
  ++suppressed_.events;
  suppressed_.rows += row ? 1 : 0;
  return false;
}

std::optional<FloodBudget::Suppressed> FloodBudget::TakeSummaryIfDue(Clock::time_point now) {
  std::lock_guard lock(mu_);
  if (suppressed_.events == 0) return std::nullopt;
  if (summarized_once_ && now - summarized_ < interval_) return std::nullopt;
  summarized_once_ = true;
  summarized_ = now;
  return std::exchange(suppressed_, Suppressed{});
}

FloodBudget& UnauthenticatedBudget() {
  static FloodBudget budget(kUnauthPerSecond, kUnauthBurst);
  return budget;
}

void ReportSuppressedUnauthenticated(db::Writer& writer) {
  auto s = UnauthenticatedBudget().TakeSummaryIfDue();
  if (!s) return;
  GlobalMetrics().unauthenticated_suppressed.Inc("line", s->events);
  GlobalMetrics().unauthenticated_suppressed.Inc("row", s->rows);
  const std::string events = std::to_string(s->events), rows = std::to_string(s->rows);
  Log(Priority::kWarning, "unauthenticated_suppressed",
      {{"events", events}, {"rows", rows},
       {"per_second", std::to_string(static_cast<int>(kUnauthPerSecond))}});
  if (s->rows == 0) return;
  RecordEventAsync(writer, db::EventRecord{
                               .time = ca::Iso8601(static_cast<base::UnixTime>(std::time(nullptr))),
                               .peer = "",
                               .presented_fingerprint = "",
                               .presented_subject = "",
                               .device_id = "",
                               .endpoint = "tls",
                               .outcome = "suppressed",
                               .http_status = 0,
                               .reason = rows + " unauthenticated failures over the budget of " +
                                         std::to_string(static_cast<int>(kUnauthPerSecond)) +
                                         "/s: counted, not recorded one by one",
                               .serial_hex = "",
                           });
}

}  // namespace provisiond
