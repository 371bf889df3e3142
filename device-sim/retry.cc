// retry.cc — Retry-After parsing and back-off arithmetic for retry.h.
#include "device-sim/retry.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace devsim {

bool IsRetryableStatus(int status) { return status == 503 || status == 429; }

std::optional<double> ParseRetryAfter(std::string_view value) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.empty() || value.size() > 10) return std::nullopt;
  long seconds = -1;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (ec != std::errc() || end != value.data() + value.size() || seconds < 0) return std::nullopt;
  return static_cast<double>(seconds);
}

double BackoffSeconds(int attempt, std::optional<double> retry_after, double u) {
  u = std::clamp(u, 0.0, 1.0);
  if (retry_after) {
    const double base = std::clamp(*retry_after, 0.0, kMaxRetryAfterSeconds);
    return base * (1.0 + 0.5 * u);
  }
  const int exponent = std::clamp(attempt - 1, 0, 16);
  const double d = std::min(30.0, 0.5 * std::ldexp(1.0, exponent));
  return d / 2 + (d / 2) * u;
}

}  // namespace devsim
