// pg_writer.cc — db::PgWriter: the writer thread, batching and per-operation savepoints on
// PostgreSQL. The batch state machine is written down in pg_writer.h.
#include "db/pg_writer.h"

#include <pthread.h>

#include <algorithm>
#include <utility>

#include "db/pg_conn.h"
#include "db/pg_ops.h"

namespace db {
namespace {

// Runs one operation under its own savepoint. Returns the error that ends the whole batch (a
// savepoint statement failed); the operation's own result is in `op`.
template <typename Op, typename Body>
std::optional<Error> RunUnderSavepoint(PgConn& db, Op& op, Body&& body) {
  if (auto saved = db.Run("SAVEPOINT writer_op"); !saved) return saved.error();
  op.result = body();
  if (!*op.result) {
    if (auto undone = db.Run("ROLLBACK TO SAVEPOINT writer_op"); !undone) return undone.error();
  }
  if (auto released = db.Run("RELEASE SAVEPOINT writer_op"); !released) return released.error();
  return std::nullopt;
}

std::optional<Error> RunOne(PgConn& db, auto& operation) {
  return std::visit(
      [&db](auto& op) {
        return RunUnderSavepoint(db, op, [&] {
          if constexpr (requires { op.intent; }) {
            return PgReserveInTxn(db, op.intent, op.policy);
          } else if constexpr (requires { op.cert; }) {
            return PgCompleteInTxn(db, op.cert, op.event);
          } else {
            return PgRecordEventInTxn(db, op.event);
          }
        });
      },
      operation);
}

// As db::Writer's Deliver: the operation's own result, or the batch's error when the batch failed
// as a whole and the operation had not already failed on its own.
void Deliver(auto& operation, const std::optional<Error>& batch_error) {
  std::visit(
      [&](auto& op) {
        if (!op.done) return;
        if (batch_error && (!op.result || *op.result)) {
          op.done(std::unexpected(*batch_error));
        } else {
          op.done(std::move(*op.result));
        }
      },
      operation);
}

}  // namespace

Result<std::unique_ptr<PgWriter>> PgWriter::Start(PgStore& store, size_t max_queue,
                                                  size_t max_batch) {
  auto db = PgConn::Connect(store.conninfo_);
  if (!db) return std::unexpected(db.error());
  return std::unique_ptr<PgWriter>(new PgWriter(std::move(*db), max_queue, max_batch));
}

PgWriter::PgWriter(std::unique_ptr<PgConn> db, size_t max_queue, size_t max_batch)
    : db_(std::move(db)),
      max_queue_(max_queue),
      max_batch_(std::max<size_t>(max_batch, 1)),
      thread_([this] { Loop(); }) {}

PgWriter::~PgWriter() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

bool PgWriter::SubmitReserve(Intent intent, IssuancePolicy policy,
                             std::function<void(Result<IssueOutcome>)> done) {
  return Submit(ReserveOp{std::move(intent), policy, std::move(done), std::nullopt});
}

bool PgWriter::SubmitComplete(CertificateRecord cert, EventRecord event,
                              std::function<void(Result<void>)> done) {
  return Submit(CompleteOp{std::move(cert), std::move(event), std::move(done), std::nullopt});
}

bool PgWriter::SubmitEvent(EventRecord event, std::function<void(Result<void>)> done) {
  return Submit(EventOp{std::move(event), std::move(done), std::nullopt});
}

bool PgWriter::Submit(Operation op) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || queue_.size() >= max_queue_) return false;
    queue_.push_back(std::move(op));
  }
  wake_.notify_one();
  return true;
}

PgWriter::Stats PgWriter::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

std::optional<Error> PgWriter::RunBatch(std::vector<Operation>& batch) {
  std::optional<Error> batch_error;
  auto done = InPgWriteTransaction(*db_, [&]() -> Result<void> {
    for (Operation& operation : batch) {
      batch_error = RunOne(*db_, operation);
      if (batch_error) return std::unexpected(*batch_error);
    }
    return {};
  });
  if (!done && !batch_error) batch_error = done.error();  // BEGIN, the lock or COMMIT failed
  return batch_error;
}

void PgWriter::Loop() {
  pthread_setname_np(pthread_self(), "db-pg-writer");
  for (;;) {
    std::vector<Operation> batch;
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything queued has been run
      size_t take = std::min(queue_.size(), max_batch_);
      for (size_t i = 0; i < take; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      ++stats_.batches;
      stats_.largest_batch = std::max<uint64_t>(stats_.largest_batch, batch.size());
    }
    std::optional<Error> batch_error = RunBatch(batch);
    // After COMMIT returned and outside every lock: a done may Submit* again.
    for (Operation& operation : batch) Deliver(operation, batch_error);
  }
}

}  // namespace db
