// pg_conn.h — owns libpq handles (PGconn, PGresult), binds every value as a parameter of
// PQexecParams, reads rows, and maps each SQLSTATE to a db::Code once, at the call that failed.
// Private to db/.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "db/records.h"
#include "db/row_view.h"

namespace db {

// How long a statement waits for a lock before failing with kBusy (SQLSTATE 55P03).
inline constexpr int kPgLockTimeoutMs = 5000;

struct FinishPgConn {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
using PgConnPtr = std::unique_ptr<PGconn, FinishPgConn>;

struct ClearPgResult {
  void operator()(PGresult* result) const { PQclear(result); }
};
using PgResultPtr = std::unique_ptr<PGresult, ClearPgResult>;

// The parameters of one statement, $1, $2, ... in the order they are added. Values are copied.
class PgParams {
 public:
  PgParams& Text(std::string_view text);
  PgParams& TextOrNull(std::string_view text);  // "" binds NULL
  PgParams& OptionalText(const std::optional<std::string>& text);
  PgParams& Bytes(std::span<const unsigned char> bytes);  // bytea, sent in binary; empty binds NULL
  PgParams& Int(int64_t value);
  PgParams& OptionalInt(std::optional<int64_t> value);

 private:
  friend class PgConn;
  std::vector<std::optional<std::string>> values_;
  std::vector<int> formats_;  // 0 text, 1 binary
};

// One row of a result (text format: libpq's default). Blob decodes bytea's hex output.
class PgRow final : public RowView {
 public:
  PgRow(const PGresult* result, int row) : result_(result), row_(row) {}
  bool IsNull(int column) const override;
  std::string Text(int column) const override;
  std::vector<unsigned char> Blob(int column) const override;
  int64_t Int(int column) const override;

 private:
  const PGresult* result_;
  int row_;
};

// A statement's result rows.
class PgRows {
 public:
  explicit PgRows(PgResultPtr result) : result_(std::move(result)) {}
  int size() const { return PQntuples(result_.get()); }
  bool empty() const { return size() == 0; }
  PgRow Row(int row) const { return PgRow(result_.get(), row); }

 private:
  PgResultPtr result_;
};

// One connection. Not thread-safe: its owner serializes use (PgStore's mutex, PgWriter's thread).
// A connection found broken is reset (PQreset) once before the next statement, but only outside a
// transaction: inside one (after BEGIN, until COMMIT or RollbackIfOpen) every later statement
// fails with kIo instead, so the rest of a transaction never runs on a new session without its
// BEGIN and its lock. A failed statement is never retried here (the caller decides).
class PgConn {
 public:
  // kIo if the server cannot be reached or refuses; the detail never shows the conninfo.
  static Result<std::unique_ptr<PgConn>> Connect(const std::string& conninfo);

  // One statement (PQexecParams: never several), its values bound; rows for a query.
  Result<PgRows> Query(const char* sql, const PgParams& params = {});
  // The same for a statement whose rows, if any, are not wanted. Returns the rows it affected.
  Result<int64_t> Run(const char* sql, const PgParams& params = {});
  // A RowQuery (db/row_view.h) on this connection, for the backend-neutral audit walk.
  RowQuery Rows();

  // Ends an open transaction, if any (after a failure); errors are ignored.
  void RollbackIfOpen();

 private:
  explicit PgConn(PgConnPtr conn) : conn_(std::move(conn)) {}
  Result<PgResultPtr> Exec(const char* sql, const PgParams& params);
  PgConnPtr conn_;
  bool in_transaction_ = false;  // between our BEGIN and its COMMIT / ROLLBACK
};

// The Error for a failed result (SQLSTATE mapped to a Code) or, with no result, the connection's.
Error PgError(PGconn* conn, const PGresult* result, std::string_view sql);

// BEGIN (READ COMMITTED) and the store's write lock, the row lock on audit_head (db/pg_schema.cc
// explains why one lock): how every write transaction starts, one-shot (InPgWriteTransaction) or
// a Writer's batch. On failure the caller rolls back.
Result<void> BeginPgWrite(PgConn& db);

// Runs `body` in one such transaction. Success: committed. Failure (of BEGIN, the lock, body or
// COMMIT): rolled back, the first error returned.
template <typename Body>
Result<void> InPgWriteTransaction(PgConn& db, Body&& body) {
  Result<void> result = BeginPgWrite(db);
  if (result) result = body();
  if (result) {
    if (auto committed = db.Run("COMMIT"); !committed) result = std::unexpected(committed.error());
  }
  if (!result) db.RollbackIfOpen();
  return result;
}

}  // namespace db
