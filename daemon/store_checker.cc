// store_checker.cc — BackgroundStoreCheck: the thread and what a verdict does
// (store_checker.h).
#include "daemon/store_checker.h"

#include <pthread.h>

#include <string>

#include "daemon/log.h"

namespace provisiond {

BackgroundStoreCheck::BackgroundStoreCheck(std::string path, db::StoreHealth& health,
                                           std::chrono::milliseconds delay,
                                           std::chrono::milliseconds period)
    : path_(std::move(path)), health_(health), delay_(delay), period_(period) {
  thread_ = std::thread([this] { Run(); });
}

BackgroundStoreCheck::~BackgroundStoreCheck() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    if (current_ != nullptr) current_->Interrupt();
  }
  wake_.notify_all();
  thread_.join();
}

int BackgroundStoreCheck::completed() const {
  std::lock_guard lock(mu_);
  return completed_;
}

bool BackgroundStoreCheck::WaitFor(std::chrono::milliseconds how_long) {
  std::unique_lock lock(mu_);
  return !wake_.wait_for(lock, how_long, [this] { return stopping_; });
}

void BackgroundStoreCheck::Run() {
  // Named, so that its CPU can be told from the enrollments' (top -H, perf, /proc/PID/task).
  pthread_setname_np(pthread_self(), "store-check");
  if (!WaitFor(delay_)) return;
  do {
    CheckOnce();
  } while (!health_.damaged() && WaitFor(period_));
}

void BackgroundStoreCheck::CheckOnce() {
  db::SqliteFileCheck check;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    current_ = &check;
  }
  auto result = check.Run(path_);
  {
    std::lock_guard lock(mu_);
    current_ = nullptr;
    if (result && !result->finished) return;  // interrupted: stopping
    ++completed_;
  }
  if (result) {
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%.1f", result->seconds);
    Log(Priority::kInfo, "store_check_passed",
        {{"pages", std::to_string(result->pages)}, {"seconds", seconds}});
  } else if (result.error().code == db::Code::kCorrupt) {
    health_.Damaged(result.error().detail);
    Log(Priority::kErr, "store_check_failed_issuance_stopped",
        {{"reason", result.error().detail}});
  } else {
    Log(Priority::kWarning, "store_check_error", {{"reason", result.error().detail}});
  }
}

}  // namespace provisiond
