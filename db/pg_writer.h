// pg_writer.h — db::PgWriter: group commit for PgStore. One thread per store owns a connection of
// its own and commits the issuance writes (Reserve, Complete, events) in groups, one transaction
// (one WAL flush) per group, exactly as db::Writer does for SQLite.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <variant>
#include <vector>

#include "db/issuance_queue.h"
#include "db/pg_store.h"

namespace db {

class PgConn;

// How a batch runs, on the writer thread:
//
//   wait until the queue is non-empty (or stopping and empty: exit)
//   take up to max_batch operations, in submission order
//   BEGIN; lock audit_head (the store's one write lock, db/pg_schema.cc): other replicas' writers
//     wait here, at most kPgLockTimeoutMs (lock_timeout; then every operation gets kBusy)
//   for each operation:
//     SAVEPOINT; run it (the same code as PgStore's one-shot method, db/pg_ops.h)
//     success, or a policy refusal: RELEASE
//     error (kConstraint, kDuplicateSerial, ...): ROLLBACK TO + RELEASE: it alone is undone and
//       gets the error; the others go on in the same transaction
//     a savepoint statement failing (the connection is gone): the batch stops, as if COMMIT failed
//   COMMIT   failed: every operation that had succeeded gets the COMMIT error; nothing is durable
//   then, outside every lock, each `done` in submission order with its result
//
// The audit_head lock is taken before the first SAVEPOINT, so rolling an operation back never
// releases it (PostgreSQL releases row locks taken inside a rolled-back savepoint).
// Unlike db::Writer there is no commit_delay gathering: a batch is what queued while the previous
// one committed. A broken connection is reset before the next batch (PgConn).
class PgWriter : public IssuanceQueue {
 public:
  // Connects with the store's conninfo; kIo if it cannot. The store must outlive the writer.
  static Result<std::unique_ptr<PgWriter>> Start(PgStore& store, size_t max_queue = 4096,
                                                 size_t max_batch = 256);
  // Stops accepting, runs everything already queued (each done is still called), joins.
  ~PgWriter() override;
  PgWriter(const PgWriter&) = delete;
  PgWriter& operator=(const PgWriter&) = delete;

  // The contract of db::Writer's Submit* (writer.h): `done` is called exactly once, on the writer
  // thread, after the batch's COMMIT returned; false (nothing queued) when full or stopping.
  bool SubmitReserve(Intent intent, IssuancePolicy policy,
                     std::function<void(Result<IssueOutcome>)> done) override;
  bool SubmitComplete(CertificateRecord cert, EventRecord event,
                      std::function<void(Result<void>)> done) override;
  bool SubmitEvent(EventRecord event, std::function<void(Result<void>)> done) override;

  // Transactions begun and the largest batch so far (for tests and metrics).
  struct Stats {
    uint64_t batches = 0;
    uint64_t largest_batch = 0;
  };
  Stats stats() const;

 private:
  struct ReserveOp {
    Intent intent;
    IssuancePolicy policy;
    std::function<void(Result<IssueOutcome>)> done;
    std::optional<Result<IssueOutcome>> result;
  };
  struct CompleteOp {
    CertificateRecord cert;
    EventRecord event;
    std::function<void(Result<void>)> done;
    std::optional<Result<void>> result;
  };
  struct EventOp {
    EventRecord event;
    std::function<void(Result<void>)> done;
    std::optional<Result<void>> result;
  };
  using Operation = std::variant<ReserveOp, CompleteOp, EventOp>;

  PgWriter(std::unique_ptr<PgConn> db, size_t max_queue, size_t max_batch);
  bool Submit(Operation op);
  void Loop();
  std::optional<Error> RunBatch(std::vector<Operation>& batch);

  std::unique_ptr<PgConn> db_;  // used only by the writer thread
  const size_t max_queue_;
  const size_t max_batch_;

  mutable std::mutex mu_;  // guards queue_, stopping_, stats_
  std::condition_variable wake_;
  std::deque<Operation> queue_;
  bool stopping_ = false;
  Stats stats_;

  std::thread thread_;  // last: started after everything above is constructed
};

}  // namespace db
