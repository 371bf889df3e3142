// store_health.cc — db::StoreHealth: the up/down state and error counters (see store_health.h).
#include "db/store_health.h"

namespace db {

void StoreHealth::Answered() {
  if (up_.load(std::memory_order_acquire)) return;  // the common case: no lock
  std::lock_guard lock(mu_);
  if (damaged_.load(std::memory_order_acquire)) return;  // only a restart lifts it
  up_.store(true, std::memory_order_release);
  reason_.clear();
}

void StoreHealth::Damaged(const std::string& reason) {
  std::lock_guard lock(mu_);
  damaged_.store(true, std::memory_order_release);
  up_.store(false, std::memory_order_release);
  reason_ = reason.substr(0, reason.find('\n'));
}

void StoreHealth::Failed(const Error& error) {
  int slot;
  switch (error.code) {
    case Code::kIo: slot = 0; break;
    case Code::kFull: slot = 1; break;
    case Code::kBusy: slot = 2; break;
    case Code::kCorrupt: slot = 3; break;
    default: return;
  }
  errors_[slot].fetch_add(1, std::memory_order_relaxed);
  if (slot > 1) return;
  std::lock_guard lock(mu_);
  if (damaged_.load(std::memory_order_acquire)) return;  // keep the check's reason
  up_.store(false, std::memory_order_release);
  reason_ = error.detail.substr(0, error.detail.find('\n'));
}

void StoreHealth::Reconnected() { reconnects_.fetch_add(1, std::memory_order_relaxed); }

StoreHealth::Snapshot StoreHealth::Get() const {
  Snapshot s;
  {
    std::lock_guard lock(mu_);
    s.up = up_.load(std::memory_order_acquire);
    s.damaged = damaged_.load(std::memory_order_acquire);
    s.reason = reason_;
  }
  s.reconnects = reconnects_.load(std::memory_order_relaxed);
  s.io = errors_[0].load(std::memory_order_relaxed);
  s.full = errors_[1].load(std::memory_order_relaxed);
  s.busy = errors_[2].load(std::memory_order_relaxed);
  s.corrupt = errors_[3].load(std::memory_order_relaxed);
  return s;
}

StoreHealth& GlobalStoreHealth() {
  static StoreHealth health;
  return health;
}

}  // namespace db
