// writer.cc — db::Writer: the writer thread, batching and per-operation savepoints, the same for
// every backend (db/batch_txn.h). The batch state machine is written down in writer.h.
#include "db/writer.h"

#include "db/store_health.h"
#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <utility>

#include "db/batch_txn.h"
#include "db/store_health.h"
#include "db/sql_store.h"

namespace db {
namespace {

using Clock = std::chrono::steady_clock;

double MillisecondsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

}  // namespace

Writer::Writer(SqliteStore& store, size_t max_queue, size_t max_batch,
               std::chrono::microseconds commit_delay)
    : Writer(SqliteBatchTxn(store), max_queue, max_batch, commit_delay) {}

Writer::Writer(std::unique_ptr<BatchTxn> txn, size_t max_queue, size_t max_batch,
               std::chrono::microseconds commit_delay)
    : txn_(std::move(txn)),
      max_queue_(max_queue),
      max_batch_(std::max<size_t>(max_batch, 1)),
      commit_delay_(std::max(commit_delay, std::chrono::microseconds{0})),
      thread_([this] { Loop(); }) {}

Writer::~Writer() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

bool Writer::SubmitReserve(Intent intent, IssuancePolicy policy,
                           std::function<void(Result<IssueOutcome>)> done) {
  return Submit(ReserveOp{std::move(intent), policy, std::move(done), std::nullopt});
}

bool Writer::SubmitComplete(CertificateRecord cert, EventRecord event,
                            std::function<void(Result<void>)> done) {
  return Submit(CompleteOp{std::move(cert), std::move(event), std::move(done), std::nullopt});
}

bool Writer::SubmitEvent(EventRecord event, std::function<void(Result<void>)> done) {
  return Submit(EventOp{std::move(event), std::move(done), std::nullopt});
}

bool Writer::SubmitCacertsFetch(std::string device_id, int64_t gen, std::string at,
                                std::function<void(Result<void>)> done) {
  return Submit(FetchOp{std::move(device_id), gen, std::move(at), std::move(done), std::nullopt});
}

bool Writer::Submit(Operation op) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || queue_.size() >= max_queue_) return false;
    // The Complete of an issuance the writer saw reserved: it no longer has one coming.
    if (std::holds_alternative<CompleteOp>(op) && signing_ > 0) --signing_;
    queue_.push_back(std::move(op));
    ++arrivals_;
  }
  wake_.notify_one();
  return true;
}

size_t Writer::queue_depth() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

Writer::Stats Writer::stats() const {
  std::lock_guard lock(stats_mu_);
  return stats_;
}

namespace {

constexpr const char* kSavepoint = "SAVEPOINT writer_op";
constexpr const char* kRelease = "RELEASE SAVEPOINT writer_op";
constexpr const char* kUndo = "ROLLBACK TO SAVEPOINT writer_op";

// Runs one operation under its own savepoint. Returns the error that ends the whole batch (the
// transaction is gone or a savepoint statement failed); the operation's own result is in `op`.
template <typename Op, typename Body>
std::optional<Error> RunUnderSavepoint(BatchTxn& txn, Op& op, Body&& body) {
  if (auto saved = txn.Control(kSavepoint); !saved) return saved.error();
  op.result = body();
  if (*op.result) {
    if (auto released = txn.Control(kRelease); !released) return released.error();
    return std::nullopt;
  }
  // e.g. some SQLITE_FULL / SQLITE_IOERR failures roll back the whole transaction, taking the
  // earlier operations of the batch with it.
  if (auto lost = txn.Lost(op.result->error())) return lost;
  if (auto undone = txn.Control(kUndo); !undone) return undone.error();
  if (auto released = txn.Control(kRelease); !released) return released.error();
  return std::nullopt;
}

// The operation types are private to Writer, so they are told apart by their members.
std::optional<Error> RunOne(BatchTxn& txn, auto& operation) {
  return std::visit(
      [&txn](auto& op) {
        return RunUnderSavepoint(txn, op, [&] {
          if constexpr (requires { op.intent; }) {
            return ReserveInTxn(txn.session(), op.intent, op.policy);
          } else if constexpr (requires { op.cert; }) {
            return CompleteInTxn(txn.session(), op.cert, op.event);
          } else if constexpr (requires { op.fetch_device_id; }) {
            return RecordCacertsFetchInTxn(txn.session(), op.fetch_device_id, op.gen, op.at);
          } else {
            return RecordEventInTxn(txn.session(), op.event);
          }
        });
      },
      operation);
}

// Calls the operation's done with its own result, or with `batch_error` when the batch failed as
// a whole and the operation had not already failed on its own.
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

std::optional<Error> Writer::RunBatch(std::vector<Operation>& batch, BatchTimes& times) {
  // Begin takes the write lock now: a competing writer makes us wait here, up to the backend's
  // lock timeout, rather than failing half-way through the batch.
  std::optional<Error> batch_error;
  Clock::time_point begin = Clock::now();
  if (auto begun = txn_->Begin(); !begun) batch_error = begun.error();
  Clock::time_point locked = Clock::now();
  times.begin_ms = std::chrono::duration<double, std::milli>(locked - begin).count();
  for (size_t i = 0; !batch_error && i < batch.size(); ++i) batch_error = RunOne(*txn_, batch[i]);
  if (!batch_error) {
    Clock::time_point start = Clock::now();
    auto committed = txn_->Control("COMMIT");
    times.commit_ms = MillisecondsSince(start);
    times.locked_ms = MillisecondsSince(locked);
    if (!committed) batch_error = committed.error();
  }
  txn_->Finish();
  return batch_error;
}

bool Writer::ShouldGather() const {
  return commit_delay_.count() > 0 && !stopping_ && queue_.size() < max_batch_ && signing_ > 0;
}

// Reserves that the daemon follows with a signature and a Complete.
size_t Writer::SigningAfter(const std::vector<Operation>& batch, bool batch_failed) {
  if (batch_failed) return 0;
  size_t n = 0;
  for (const auto& operation : batch) {
    if (const auto* op = std::get_if<ReserveOp>(&operation);
        op && op->result && *op->result &&
        ((*op->result)->decision == Decision::kReserved ||
         (*op->result)->decision == Decision::kResume)) {
      ++n;
    }
  }
  return n;
}

void Writer::RecordStats(size_t batch_size, bool failed, const BatchTimes& times, bool gathered) {
  std::lock_guard lock(stats_mu_);
  ++stats_.batches;
  if (gathered) ++stats_.gathers;
  stats_.operations += batch_size;
  stats_.largest_batch = std::max<uint64_t>(stats_.largest_batch, batch_size);
  if (failed) {
    ++stats_.commit_failures;
    return;
  }
  const double commit_ms = times.commit_ms;
  stats_.last_commit_ms = commit_ms;
  stats_.max_commit_ms = std::max(stats_.max_commit_ms, commit_ms);
  stats_.total_commit_ms += commit_ms;
  stats_.total_begin_ms += times.begin_ms;
  stats_.total_locked_ms += times.locked_ms;
  stats_.max_locked_ms = std::max(stats_.max_locked_ms, times.locked_ms);
  size_t bucket = 0;
  while (bucket < kCommitBucketsMs.size() && commit_ms >= kCommitBucketsMs[bucket]) ++bucket;
  ++stats_.commit_ms_histogram[bucket];
}

void Writer::Loop() {
  // Visible in top -H, ps -L and /proc/<pid>/task/*/comm (at most 15 characters).
  pthread_setname_np(pthread_self(), "db-writer");
  for (;;) {
    std::vector<Operation> batch;
    bool gathered = false;
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything queued has been run
      if (ShouldGather()) {
        gathered = true;
        const uint64_t arrived = arrivals_;
        wake_.wait_for(lock, commit_delay_, [this] {
          return stopping_ || queue_.size() >= max_batch_ || signing_ == 0;
        });
        if (arrivals_ == arrived) signing_ = 0;  // nobody came: stop expecting them
      }
      size_t take = std::min(queue_.size(), max_batch_);
      batch.reserve(take);
      for (size_t i = 0; i < take; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    BatchTimes times;
    // A store that failed its whole-file check is written no more, whatever the operation
    // (events and Completes too): every done gets the error, nothing reaches the file.
    std::optional<Error> batch_error =
        GlobalStoreHealth().damaged()
            ? std::optional<Error>(Error{Code::kCorrupt, "the store failed its integrity check"})
            : RunBatch(batch, times);
    RecordStats(batch.size(), batch_error.has_value(), times, gathered);
    if (size_t signing =
            commit_delay_.count() > 0 ? SigningAfter(batch, batch_error.has_value()) : 0;
        signing > 0) {
      std::lock_guard lock(mu_);
      signing_ += signing;
    }
    // After COMMIT returned and outside every lock: a done may Submit* again.
    for (Operation& operation : batch) Deliver(operation, batch_error);
  }
}

std::string Writer::Refusal() const {
  return GlobalStoreHealth().damaged() ? "the store failed its integrity check" : "";
}

}  // namespace db
