// retry_after.h — the Retry-After value of every 503/429 the daemon sends, jittered so that a
// refused fleet does not come back as one wave. Pure arithmetic plus one per-thread generator.
#pragma once

namespace provisiond {

// A 503's Retry-After from the configured base (--retry-after): uniform over the whole seconds
// in [max(1, base/2), max(base/2 + 1, base*3/2)] — the mean stays the base, the returns of a
// wave refused in the same second are spread over a window as long as the base. `u` is uniform
// in [0, 1); out-of-range u is clamped.
int JitteredRetryAfter(int base_seconds, double u);

// A 429's Retry-After when the rate limiter says its token is back in `wait` seconds: never
// earlier than the token (a device told to come back sooner would only be refused again),
// uniform over the whole seconds in [max(1, wait), that + max(1, wait/2)].
int JitteredRateLimitWait(int wait_seconds, double u);

// A uniform number in [0, 1) from this thread's generator (seeded once per thread from
// std::random_device). Not for cryptography: it only spreads retries.
double RetryJitterUniform();

}  // namespace provisiond
