// issuance_queue.h — db::IssuanceQueue: the asynchronous write side of an issuance (Reserve,
// Complete, an event row) as the daemon's authority sees it. db::Writer (writer.h) implements it
// over SQLite with group commit; another backend can implement it too.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "db/records.h"

namespace db {

// The contract is db::Writer's (writer.h, "Each Submit*"): each Submit* queues one operation and
// returns true, or returns false without queuing and without calling `done` (queue full, shutting
// down). A queued operation's `done` is called exactly once, after its commit (success: durable),
// possibly on another thread, so it must be quick and must not throw. `done` may be empty.
class IssuanceQueue {
 public:
  virtual ~IssuanceQueue() = default;
  // Store::Reserve: the policy decision and the pending intent, in one transaction.
  virtual bool SubmitReserve(Intent intent, IssuancePolicy policy,
                             std::function<void(Result<IssueOutcome>)> done) = 0;
  // Store::Complete: the certificate row and its "issued" event; the intent becomes issued.
  virtual bool SubmitComplete(CertificateRecord cert, EventRecord event,
                              std::function<void(Result<void>)> done) = 0;
  // Store::RecordEvent: one enrollment_events row.
  virtual bool SubmitEvent(EventRecord event, std::function<void(Result<void>)> done) = 0;
  // Store::RecordCacertsFetch: a device fetched /cacerts holding CA generation `gen` (one row per
  // device and generation; nothing written when it is already there).
  virtual bool SubmitCacertsFetch(std::string device_id, int64_t gen, std::string at,
                                  std::function<void(Result<void>)> done) = 0;
  // Non-empty while no issuance may start: the store was found damaged (StoreHealth::Damaged,
  // db/store_health.h); the reason, for the refusal (503).
  virtual std::string Refusal() const { return {}; }
};

}  // namespace db
