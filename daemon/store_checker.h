// store_checker.h — serve's background whole-file check of a SQLite store: one thread runs db::SqliteFileCheck after start and then every `period`; a damaged store
// stops issuance (db::StoreHealth::Damaged: 503, /healthz unhealthy, one log line).
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "db/store_check.h"
#include "db/store_health.h"

namespace provisiond {

class BackgroundStoreCheck {
 public:
  // Starts the thread: it waits `delay`, checks `path`, then checks again every `period`.
  BackgroundStoreCheck(std::string path, db::StoreHealth& health,
                       std::chrono::milliseconds delay = std::chrono::seconds(1),
                       std::chrono::milliseconds period = std::chrono::hours(24));
  ~BackgroundStoreCheck();  // interrupts a check in progress and joins
  BackgroundStoreCheck(const BackgroundStoreCheck&) = delete;
  BackgroundStoreCheck& operator=(const BackgroundStoreCheck&) = delete;

  // Checks finished so far (with a verdict, either way): for tests.
  int completed() const;

 private:
  void Run();
  bool WaitFor(std::chrono::milliseconds how_long);  // false: stopping
  void CheckOnce();

  const std::string path_;
  db::StoreHealth& health_;
  const std::chrono::milliseconds delay_, period_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  int completed_ = 0;
  db::SqliteFileCheck* current_ = nullptr;  // the check in progress, for the destructor
  std::thread thread_;                      // last: started once the rest is built
};

}  // namespace provisiond
