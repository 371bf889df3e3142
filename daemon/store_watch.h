// store_watch.h — the store's health as the daemon reports it: /healthz's verdict and the
// provisiond_store_* metrics from db::StoreHealth, and StoreProbe, which asks the store once a
// second so that an outage and the recovery show even when no device is connecting.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "db/store_health.h"
#include "db/store_reader.h"

namespace provisiond {

// /healthz's part for the store: true while it is up; else false and *reason is one line,
// "store unavailable: <the error that took it down>".
bool StoreHealthy(const db::StoreHealth::Snapshot& health, std::string* reason);

// provisiond_store_up (gauge 1/0), provisiond_store_errors_total{code="io|full|busy|corrupt"}
// and provisiond_store_reconnects_total, in the exposition format.
void RenderStoreMetrics(const db::StoreHealth::Snapshot& health, std::string* out);

// A thread looks up one serial in `reader` every `period` (one index lookup): an answer marks the
// store up, a failure marks it down (the backends report it: PgConn, SqliteError). The
// reader must be safe to call from this thread while others use it (PgStore and SqliteStore
// take their own mutex) and must outlive the probe.
class StoreProbe {
 public:
  StoreProbe(db::StoreReader& reader, db::StoreHealth& health,
             std::chrono::milliseconds period = std::chrono::seconds(1));
  ~StoreProbe();  // stops and joins (an in-flight lookup is bounded by the store's own timeouts)
  StoreProbe(const StoreProbe&) = delete;
  StoreProbe& operator=(const StoreProbe&) = delete;

 private:
  void Run();

  db::StoreReader& reader_;
  db::StoreHealth& health_;
  const std::chrono::milliseconds period_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;  // last: started once the rest is built
};

}  // namespace provisiond
