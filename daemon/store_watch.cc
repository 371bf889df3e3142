// store_watch.cc — /healthz's store verdict, the provisiond_store_* metrics and the probe of a
// store that is down (see store_watch.h).
#include "daemon/store_watch.h"

#include <pthread.h>

#include "daemon/metrics.h"

namespace provisiond {

bool StoreHealthy(const db::StoreHealth::Snapshot& health, std::string* reason) {
  if (health.up) return true;
  std::string why = health.reason.empty() ? "no answer" : health.reason;
  if (why.size() > 200) why.resize(200);  // one line, bounded: /healthz answers in one packet
  *reason = "store unavailable: " + why;
  return false;
}

void RenderStoreMetrics(const db::StoreHealth::Snapshot& health, std::string* out) {
  *out += "# HELP provisiond_store_up Whether the store answered the last request (1) or failed "
          "with an I/O, read-only or full error (0).\n# TYPE provisiond_store_up gauge\n";
  *out += "provisiond_store_up " + std::string(health.up ? "1" : "0") + "\n";
  *out += "# HELP provisiond_store_errors_total Store requests that failed, by kind (io: down, "
          "unreachable, read-only; full; busy: lock or statement timeout; corrupt).\n"
          "# TYPE provisiond_store_errors_total counter\n";
  for (const auto& [code, n] : {std::pair{"io", health.io}, std::pair{"full", health.full},
                                std::pair{"busy", health.busy},
                                std::pair{"corrupt", health.corrupt}}) {
    *out += "provisiond_store_errors_total{code=\"" + EscapeLabelValue(code) + "\"} " +
            std::to_string(n) + "\n";
  }
  *out += "# HELP provisiond_store_reconnects_total Database sessions made again after one was "
          "lost or dropped (PostgreSQL).\n# TYPE provisiond_store_reconnects_total counter\n";
  *out += "provisiond_store_reconnects_total " + std::to_string(health.reconnects) + "\n";
}

StoreProbe::StoreProbe(db::StoreReader& reader, db::StoreHealth& health,
                       std::chrono::milliseconds period)
    : reader_(reader), health_(health), period_(period), thread_([this] { Run(); }) {}

StoreProbe::~StoreProbe() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void StoreProbe::Run() {
  pthread_setname_np(pthread_self(), "store-probe");
  // A serial no certificate has (ours are random, never all zeros): one index lookup.
  const std::string serial(32, '0');
  std::unique_lock lock(mu_);
  while (!wake_.wait_for(lock, period_, [this] { return stopping_; })) {
    lock.unlock();
    // A failure is recorded by the backend itself (PgConn, SqliteError).
    if (reader_.CertificateStatus(serial)) health_.Answered();
    lock.lock();
  }
}

}  // namespace provisiond
