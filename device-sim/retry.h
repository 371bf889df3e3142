// retry.h — when a device tries again: after 503 Service Unavailable or 429 Too Many Requests,
// honouring Retry-After, with jitter so a refused fleet does not come back in lockstep. Pure.
#pragma once

#include <optional>
#include <string_view>

namespace devsim {

inline constexpr int kDefaultMaxRetries = 5;
// A Retry-After longer than this is clamped: a device-sim run should not sleep for a day because a
// server said so (the value is untrusted input).
inline constexpr double kMaxRetryAfterSeconds = 300;

// 503 and 429: the server asks us to come back later.
bool IsRetryableStatus(int status);

// Retry-After as delta-seconds ("120", surrounding blanks allowed). HTTP-date and anything else
// give nullopt (the caller falls back to exponential back-off).
std::optional<double> ParseRetryAfter(std::string_view value);

// Seconds to wait before retry number `attempt` (1-based). With a Retry-After: that value
// (clamped to kMaxRetryAfterSeconds) times a jitter factor in [1, 1.5), never earlier than asked.
// Without: "equal jitter" exponential back-off, d = min(30, 0.5 * 2^(attempt-1)), wait in
// [d/2, d). `u` is a uniform random number in [0, 1).
double BackoffSeconds(int attempt, std::optional<double> retry_after, double u);

}  // namespace devsim
