// rate_limiter.cc — token buckets (see rate_limiter.h).
#include "daemon/authority/rate_limiter.h"

#include <charconv>
#include <cmath>

namespace provisiond {

base::Result<std::chrono::seconds> ParseDuration(std::string_view text) {
  auto bad = [&] {
    return base::Fail(base::Code::kInvalidArgument,
                      "duration '" + std::string(text) + "': want a number and s, m, h or d");
  };
  long amount = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), amount);
  if (ec != std::errc() || amount <= 0 || text.empty() || p + 1 != text.data() + text.size()) {
    return bad();
  }
  long unit = 0;
  switch (text.back()) {
    case 's': unit = 1; break;
    case 'm': unit = 60; break;
    case 'h': unit = 3600; break;
    case 'd': unit = 86400; break;
    default: return bad();
  }
  if (amount > 100L * 365 * 86400 / unit) return bad();
  return std::chrono::seconds(amount * unit);
}

base::Result<RateSpec> ParseRateSpec(std::string_view text) {
  if (text == "off" || text == "0") return RateSpec{};
  auto bad = [&] {
    return base::Fail(base::Code::kInvalidArgument,
                      "rate limit '" + std::string(text) + "': want N/PERIOD like 10/1m or off");
  };
  size_t slash = text.find('/');
  if (slash == std::string_view::npos) return bad();
  int burst = 0;
  auto [p1, e1] = std::from_chars(text.data(), text.data() + slash, burst);
  if (e1 != std::errc() || p1 != text.data() + slash || burst <= 0) return bad();
  auto period = ParseDuration(text.substr(slash + 1));
  if (!period) return bad();
  return RateSpec{static_cast<double>(burst), *period};
}

void RateLimiter::Refill(Bucket& b, TimePoint now) const {
  const double elapsed = std::chrono::duration<double>(now - b.last).count();
  const double rate = spec_.burst / static_cast<double>(spec_.period.count());
  b.tokens = std::min(spec_.burst, b.tokens + elapsed * rate);
  b.last = now;
}

void RateLimiter::Prune(TimePoint now) {
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    Refill(it->second, now);
    it = it->second.tokens >= spec_.burst ? buckets_.erase(it) : std::next(it);
  }
}

std::optional<int> RateLimiter::Take(std::string_view key, TimePoint now) {
  if (spec_.burst <= 0) return std::nullopt;
  std::lock_guard lock(mu_);
  auto it = buckets_.find(std::string(key));
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_keys_) Prune(now);
    it = buckets_.emplace(std::string(key), Bucket{spec_.burst, now}).first;
  }
  Bucket& b = it->second;
  Refill(b, now);
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return std::nullopt;
  }
  const double rate = spec_.burst / static_cast<double>(spec_.period.count());
  return std::max(1, static_cast<int>(std::ceil((1.0 - b.tokens) / rate)));
}

}  // namespace provisiond
