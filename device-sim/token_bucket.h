// token_bucket.h — the --rate limiter: a token bucket over a clock the caller passes in (seconds
// on any monotonic scale), so it is pure and testable. The fleet run shares one behind a mutex.
#pragma once

namespace devsim {

class TokenBucket {
 public:
  // `rate` tokens per second (> 0) accrue up to `burst` (>= 1); the bucket starts with one token,
  // so a run does not open with a burst.
  TokenBucket(double rate, double burst, double now);

  // Takes one token if there is one.
  bool TryTake(double now);
  // Seconds from `now` until TryTake can succeed; 0 if it can now.
  double WaitSeconds(double now);

 private:
  void Refill(double now);

  double rate_;
  double burst_;
  double tokens_;
  double last_;
};

// The burst allowed for a rate: 50 ms worth of tokens, at least one.
double DefaultBurst(double rate);

}  // namespace devsim
