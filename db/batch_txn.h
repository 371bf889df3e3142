// batch_txn.h — what db::Writer needs of a backend to run one batch: a write transaction on the
// backend's own connection, savepoints, and the session the write operations run on.
// Private to db/.
#pragma once

#include <memory>
#include <optional>

#include "db/records.h"
#include "db/sql_session.h"

namespace db {

class PgConn;
class SqliteStore;

// One object per Writer, used only by its thread. The Writer calls, for each batch:
//   Begin; per operation "SAVEPOINT", the operation, then "RELEASE SAVEPOINT", or after a failure
//   Lost and "ROLLBACK TO SAVEPOINT" + "RELEASE SAVEPOINT"; "COMMIT" unless the batch already
//   failed; Finish. (Both engines accept the same savepoint statements.)
class BatchTxn {
 public:
  virtual ~BatchTxn() = default;
  // Starts a write transaction holding the store's write lock (SQLite: BEGIN IMMEDIATE;
  // PostgreSQL: BEGIN and the audit_head row lock). Waits at most the backend's lock timeout.
  virtual Result<void> Begin() = 0;
  // A statement without parameters or rows: the savepoint statements and COMMIT.
  virtual Result<void> Control(const char* sql) = 0;
  // The connection the operations run on (db/sql_store.h: ReserveInTxn, CompleteInTxn,
  // RecordEventInTxn, the same code as the stores' one-shot methods).
  virtual SqlSession& session() = 0;
  // After an operation failed with `cause`: the error that ends the whole batch if the backend
  // rolled the transaction back by itself (the earlier operations are gone too), else nullopt.
  virtual std::optional<Error> Lost(const Error& cause) = 0;
  // Ends the batch: rolls back a transaction still open (a failure; a COMMIT that failed may
  // leave one open) and releases what Begin took.
  virtual void Finish() = 0;
};

// SQLite: the store's second connection (SqliteStore::Open makes it), under its batch mutex.
std::unique_ptr<BatchTxn> SqliteBatchTxn(SqliteStore& store);
// PostgreSQL: a connection of the writer's own.
std::unique_ptr<BatchTxn> PgBatchTxn(std::unique_ptr<PgConn> conn);

}  // namespace db
