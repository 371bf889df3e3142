// token_bucket.cc — refill on demand; time never runs backwards for the bucket.
#include "device-sim/token_bucket.h"

#include <algorithm>

namespace devsim {

TokenBucket::TokenBucket(double rate, double burst, double now)
    : rate_(rate > 0 ? rate : 1), burst_(std::max(1.0, burst)), tokens_(1), last_(now) {}

void TokenBucket::Refill(double now) {
  if (now <= last_) return;
  tokens_ = std::min(burst_, tokens_ + (now - last_) * rate_);
  last_ = now;
}

bool TokenBucket::TryTake(double now) {
  Refill(now);
  if (tokens_ < 1) return false;
  tokens_ -= 1;
  return true;
}

double TokenBucket::WaitSeconds(double now) {
  Refill(now);
  return tokens_ >= 1 ? 0 : (1 - tokens_) / rate_;
}

double DefaultBurst(double rate) { return std::max(1.0, rate * 0.05); }

}  // namespace devsim
