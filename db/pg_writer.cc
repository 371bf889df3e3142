// pg_writer.cc — PostgreSQL's side of db::Writer's batches (db/batch_txn.h): BEGIN and the
// audit_head lock on the writer's own connection, and PgWriter::Start.
#include "db/pg_writer.h"

#include <utility>

#include "db/batch_txn.h"
#include "db/pg_conn.h"
#include "db/pg_ops.h"

namespace db {

class PgBatch final : public BatchTxn {
 public:
  explicit PgBatch(std::unique_ptr<PgConn> db) : db_(std::move(db)), session_(*db_) {}

  Result<void> Begin() override { return BeginPgWrite(*db_); }
  Result<void> Control(const char* sql) override {
    auto ran = db_->Run(sql);
    if (!ran) return std::unexpected(ran.error());
    return {};
  }
  SqlSession& session() override { return session_; }
  // PostgreSQL never ends a transaction by itself on a statement's error: it stays open (aborted
  // until ROLLBACK TO), and a lost connection shows as the savepoint statements failing.
  std::optional<Error> Lost(const Error&) override { return std::nullopt; }
  void Finish() override { db_->RollbackIfOpen(); }

 private:
  std::unique_ptr<PgConn> db_;
  PgSession session_;
};

std::unique_ptr<BatchTxn> PgBatchTxn(std::unique_ptr<PgConn> conn) {
  return std::make_unique<PgBatch>(std::move(conn));
}

Result<std::unique_ptr<Writer>> PgWriter::Start(PgStore& store, size_t max_queue,
                                                size_t max_batch,
                                                std::chrono::microseconds commit_delay) {
  auto db = PgConn::Connect(store.conninfo_);
  if (!db) return std::unexpected(db.error());
  return std::make_unique<Writer>(PgBatchTxn(std::move(*db)), max_queue, max_batch, commit_delay);
}

}  // namespace db
