// sqlite_batch.cc — SQLite's side of db::Writer's batches (db/batch_txn.h): BEGIN IMMEDIATE on the
// store's second connection, held under its batch mutex from Begin to Finish.
#include <mutex>

#include "db/batch_txn.h"
#include "db/sql_store.h"
#include "db/sqlite_session.h"
#include "db/sqlite_store.h"
#include "db/statement.h"

namespace db {

class SqliteBatch final : public BatchTxn {
 public:
  explicit SqliteBatch(SqliteStore& store)
      : lock_(store.batch_mu_, std::defer_lock), db_(*store.batch_db_), session_(db_) {}

  Result<void> Begin() override {
    lock_.lock();
    return db_.Run("BEGIN IMMEDIATE");
  }
  Result<void> Control(const char* sql) override { return db_.Run(sql); }
  SqlSession& session() override { return session_; }
  // Some SQLITE_FULL / SQLITE_IOERR / SQLITE_BUSY failures roll back the whole transaction.
  std::optional<Error> Lost(const Error& cause) override {
    if (sqlite3_get_autocommit(db_.get()) == 0) return std::nullopt;
    return Error{cause.code, "transaction rolled back by SQLite: " + cause.detail};
  }
  // A failed COMMIT can leave the transaction open (e.g. a deferred foreign key): end it.
  void Finish() override {
    RollbackIfOpen(db_.get());
    lock_.unlock();
  }

 private:
  std::unique_lock<std::mutex> lock_;
  Connection& db_;
  SqliteSession session_;
};

std::unique_ptr<BatchTxn> SqliteBatchTxn(SqliteStore& store) {
  return std::make_unique<SqliteBatch>(store);
}

}  // namespace db
