// store_health.h — db::StoreHealth: whether the store answers, as the backends last saw it (every
// PostgreSQL statement and connect, every SQLite error), for the daemon's /healthz and metrics.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

#include "db/records.h"

namespace db {

// Backend-neutral and thread-safe. The backends report what they see:
//   Answered()     a statement (or a probe) got an answer from the store: up
//   Failed(error)  kIo, kFull: the store cannot take requests (down, read-only, disk full,
//                  unreachable): down, with the error's detail as the reason. kBusy and kCorrupt
//                  are counted but leave the state as it was (a busy store still answers).
//                  Every other code is an outcome, not a store failure: ignored.
//   Reconnected()  a lost connection was made again (PgConn).
//   Damaged(why)   a whole-file check (db/store_check.h) found the store corrupt: down for good,
//                  Answered() no longer lifts it (only a restart on a repaired store does), and
//                  issuance refuses while damaged() (daemon/authority/issuance.cc).
// One object for the process (GlobalStoreHealth()): a daemon has one store. Up at start.
class StoreHealth {
 public:
  struct Snapshot {
    bool up = true;
    bool damaged = false;
    std::string reason;  // the error that took it down; "" while up
    uint64_t reconnects = 0;
    uint64_t io = 0, full = 0, busy = 0, corrupt = 0;  // errors by code
  };
  void Answered();
  void Failed(const Error& error);
  void Reconnected();
  void Damaged(const std::string& reason);
  bool up() const { return up_.load(std::memory_order_acquire); }
  bool damaged() const { return damaged_.load(std::memory_order_acquire); }
  Snapshot Get() const;

 private:
  std::atomic<bool> up_{true};
  std::atomic<bool> damaged_{false};
  std::atomic<uint64_t> reconnects_{0};
  std::array<std::atomic<uint64_t>, 4> errors_{};  // io, full, busy, corrupt
  mutable std::mutex mu_;                          // guards reason_
  std::string reason_;
};

StoreHealth& GlobalStoreHealth();

}  // namespace db
