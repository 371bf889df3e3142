// writer.h — db::Writer: group commit, for both backends. One thread owns the issuance writes of a
// store and commits them in groups: many operations per transaction, so one flush makes a whole
// group durable. TLS workers submit and never wait on the database; each hears back once its
// write is committed, and only then may it reply.
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <variant>
#include <vector>

#include "db/issuance_queue.h"
#include "db/sqlite_store.h"

namespace db {

class BatchTxn;

// How a batch runs, on the writer thread (the one state machine of this class):
//
//   wait until the queue is non-empty (or stopping and empty: exit)
//   gather (only with a commit_delay, and only while an issuance is being signed, see below):
//     wait up to commit_delay more, until every awaited Complete is queued, max_batch
//     operations are queued, or stopping
//   take up to max_batch operations, in submission order
//   begin, taking the store's write lock: SQLite BEGIN IMMEDIATE (its busy handler retries up to
//     busy_timeout, 5 s); PostgreSQL BEGIN and the audit_head row lock, which every replica's
//     writes take (lock_timeout, 5 s, db/pg_schema.cc). Busy: every operation gets kBusy
//   for each operation:
//     SAVEPOINT; run it (the same code as the Store's one-shot method, db/sql_store.h)
//     success, or a policy refusal (kKeyReuse, ...): RELEASE
//     error (kConstraint, kDuplicateSerial, ...): ROLLBACK TO + RELEASE: it alone is undone and
//       it alone gets the error; the others go on in the same transaction
//     error after which SQLite rolled the whole transaction back itself (some kFull / kIo), or a
//       savepoint statement failing (on PostgreSQL: the connection is gone): the batch stops
//       there, as if COMMIT had failed
//   COMMIT (one fsync / WAL flush for the group)
//     failed: rolled back; every operation that had succeeded gets the COMMIT error; nothing of
//       the batch is durable
//   then, outside every lock, each `done` in submission order with its result
//
// Gathering is PostgreSQL's commit_delay/commit_siblings: one fsync for several operations costs
// the CPU of one, and an operation waits at most commit_delay longer. The "siblings" are the
// issuances being signed: Reserves this writer committed (reserved or resume) whose Complete has
// not been submitted yet; each of those devices will write again within milliseconds. A batch
// gathers only while there are some, and stops as soon as all of their Completes are queued, so
// a lone device (one enrollment at a time: its Complete follows its own Reserve) never waits.
// A window that ends with no operation arriving forgets the issuances it was waiting for (one
// whose Complete never comes, e.g. its signing failed, cannot make every later batch wait).
//
// Each event insert reads the newest row's hash inside the transaction, so events of one batch
// chain onto each other exactly as they would one transaction at a time.
//
// On PostgreSQL the audit_head lock is taken before the first SAVEPOINT, so rolling an operation
// back never releases it (PostgreSQL releases row locks taken inside a rolled-back savepoint).
//
// Ownership and threads: on SQLite the Writer uses the store's second connection (SqliteStore::Open
// makes it), so the store's own methods and reads on its connection never wait for this thread's
// commits; a one-shot Store write waits in busy_timeout while a batch holds SQLite's write lock,
// so under sustained load send the writes through the Writer. The store must outlive the Writer.
// At most one Writer per store is useful (a second would take turns with the first). On
// PostgreSQL (PgWriter::Start) the Writer has a connection of its own, one per replica; the
// replicas' writers take turns on the audit_head lock, one batch each.
class Writer : public IssuanceQueue {
 public:
  // Starts the writer thread. max_queue bounds the operations waiting (Submit* returns false when
  // that many wait: the caller answers 503); max_batch (at least 1) bounds one transaction;
  // commit_delay (0: never) is the longest a batch waits for company, see above.
  explicit Writer(SqliteStore& store, size_t max_queue = 4096, size_t max_batch = 256,
                  std::chrono::microseconds commit_delay = {});
  // The same on any backend's transaction (db/batch_txn.h; PgWriter::Start makes one).
  Writer(std::unique_ptr<BatchTxn> txn, size_t max_queue, size_t max_batch,
         std::chrono::microseconds commit_delay);
  // Stops accepting, runs everything already queued (each done is still called), joins.
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Each Submit* queues one operation and returns true, or returns false without queuing (and
  // without calling `done`) if the queue is full or the Writer is being destroyed. A queued
  // operation's `done` is called exactly once, after its batch's COMMIT returned: success means
  // committed and durable. `done` runs ON THE WRITER THREAD, so it must be quick: post the result
  // to the thread that wants it (a promise, an eventfd, an event loop queue) and return. It may
  // call Submit* (which never blocks), must not call the Store's write methods (they would wait
  // for this very thread's lock), and must not throw. `done` may be empty.
  //
  // Store::Reserve, as one operation of a batch.
  // The store's health says damaged (store_health.h): issuance stops.
  std::string Refusal() const override;
  bool SubmitReserve(Intent intent, IssuancePolicy policy,
                     std::function<void(Result<IssueOutcome>)> done) override;
  // Store::Complete, as one operation of a batch.
  bool SubmitComplete(CertificateRecord cert, EventRecord event,
                      std::function<void(Result<void>)> done) override;
  // Store::RecordEvent, as one operation of a batch.
  bool SubmitEvent(EventRecord event, std::function<void(Result<void>)> done) override;
  // Store::RecordCacertsFetch: one cacerts_fetches row (nothing when the device and generation are
  // already recorded).
  bool SubmitCacertsFetch(std::string device_id, int64_t gen, std::string at,
                          std::function<void(Result<void>)> done) override;

  // Operations queued and not yet taken into a batch.
  size_t queue_depth() const;

  // Commit latency histogram: bucket i counts COMMITs that took < kCommitBucketsMs[i] ms (and
  // >= the bound before it); the last bucket counts the rest.
  static constexpr std::array<double, 10> kCommitBucketsMs = {0.25, 0.5, 1,  2,  4,
                                                              8,    16,  32, 64, 128};
  struct Stats {
    uint64_t batches = 0;          // transactions begun
    uint64_t operations = 0;       // operations whose done was called
    uint64_t commit_failures = 0;  // batches failed as a whole (BEGIN, COMMIT, lost transaction)
    uint64_t largest_batch = 0;
    uint64_t gathers = 0;       // batches that waited up to commit_delay for company
    double last_commit_ms = 0;  // the COMMIT statement alone: mostly the fsync
    double max_commit_ms = 0;
    double total_commit_ms = 0;  // over successful COMMITs: mean = total / (batches - failures)
    // The store's write lock (SQLite's, PostgreSQL's audit_head row), over successful batches:
    // begin = BEGIN and taking the lock, including waiting for another writer (another replica)
    // to release it; locked = from holding it to COMMIT returned (the operations and the COMMIT:
    // the serialized part of a batch, which bounds the store's commit rate across all writers).
    double total_begin_ms = 0;
    double total_locked_ms = 0;
    double max_locked_ms = 0;
    std::array<uint64_t, kCommitBucketsMs.size() + 1> commit_ms_histogram{};
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
  struct FetchOp {
    std::string fetch_device_id;
    int64_t gen = 0;
    std::string at;
    std::function<void(Result<void>)> done;
    std::optional<Result<void>> result;
  };
  using Operation = std::variant<ReserveOp, CompleteOp, EventOp, FetchOp>;

  bool Submit(Operation op);
  void Loop();
  // Runs one transaction; returns the error that failed the whole batch, if any.
  struct BatchTimes {
    double begin_ms = 0;   // Begin: BEGIN and the write lock
    double locked_ms = 0;  // Begin returned -> COMMIT returned
    double commit_ms = 0;  // the COMMIT statement
  };
  std::optional<Error> RunBatch(std::vector<Operation>& batch, BatchTimes& times);
  void RecordStats(size_t batch_size, bool failed, const BatchTimes& times, bool gathered);
  // With mu_ held: whether the batch about to be taken should wait for company.
  bool ShouldGather() const;
  // How many of a batch's Reserves the daemon will follow with a Complete.
  static size_t SigningAfter(const std::vector<Operation>& batch, bool batch_failed);

  std::unique_ptr<BatchTxn> txn_;  // used only by the writer thread
  const size_t max_queue_;
  const size_t max_batch_;
  const std::chrono::microseconds commit_delay_;

  mutable std::mutex mu_;  // guards queue_, stopping_, signing_ and arrivals_
  std::condition_variable wake_;
  std::deque<Operation> queue_;
  bool stopping_ = false;
  size_t signing_ = 0;     // committed Reserves (reserved or resume) whose Complete is not queued
  uint64_t arrivals_ = 0;  // operations ever queued

  mutable std::mutex stats_mu_;
  Stats stats_;

  std::thread thread_;  // last: started after everything above is constructed
};

}  // namespace db
