// events.h — enrollment_events rows for refusals and failed handshakes go through the writer
// thread too (no worker waits on SQLite); a full queue or a failed write is logged, not retried.
#pragma once

#include "daemon/log.h"
#include "db/writer.h"

namespace provisiond {

inline void RecordEventAsync(db::Writer& writer, db::EventRecord event) {
  const bool queued = writer.SubmitEvent(std::move(event), [](db::Result<void> r) {
    if (!r) Log(Priority::kErr, "event_not_recorded", {{"detail", r.error().detail}});
  });
  if (!queued) Log(Priority::kErr, "event_not_recorded", {{"detail", "writer queue full"}});
}

}  // namespace provisiond
