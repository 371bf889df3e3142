// pg_conn.h — owns libpq handles (PGconn, PGresult), binds every value as a parameter of
// PQexecParams, reads rows, and maps each SQLSTATE to a db::Code once, at the call that failed.
// Private to db/.
#pragma once

#include <libpq-fe.h>

#include <chrono>
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

// The bounds on every wait for the server (set at connect; a conninfo that sets one of them, e.g.
// `connect_timeout=10` or `options=-c statement_timeout=0`, keeps its own). Together they keep a
// down, stalled or failing-over server from holding a device past the daemon's request timeout
// (10 s by default): connect_timeout per host tried; TCP keepalives and tcp_user_timeout drop a
// connection whose server stopped answering (TCP only: a Unix socket fails at once); and
// statement_timeout (server side, SQLSTATE 57014: kBusy) ends a statement that runs or waits
// (e.g. for a synchronous standby) too long. Migrate and the audit walk run without the last.
inline constexpr const char* kPgConnectTimeoutSeconds = "3";
inline constexpr const char* kPgTcpUserTimeoutMs = "5000";
inline constexpr int kPgStatementTimeoutMs = 5000;
// The client's own wait for an answer: statement_timeout plus this; then the session is closed
// (kIo). It holds when the server cannot enforce its timeout (a stopped process, a lost network).
inline constexpr std::chrono::milliseconds kPgClientDeadlineMargin{1500};
// After a failed connect or a dropped session, the next connect waits 0, then 100 ms, doubling to
// at most kPgBackoffMax; a statement that succeeds resets it. Inside the wait, calls fail at once.
inline constexpr std::chrono::milliseconds kPgBackoffFirst{100};
inline constexpr std::chrono::milliseconds kPgBackoffMax{5000};

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
// Sessions are read-write only (target_session_attrs=read-write unless the conninfo says
// otherwise). The session is dropped when the connection is lost or the server says it cannot
// take writes or is going away (SQLSTATE class 08, 57P01-57P03, 25006 read-only: a demoted
// primary, so that a multi-host conninfo finds the new one; such a drop makes every session of
// the process drop too), and made again before the next statement, with a back-off
// (kPgBackoffFirst..kPgBackoffMax): while it runs, statements fail at once with kIo ("store
// unavailable, reconnecting"). Only outside a transaction: inside
// one (after BEGIN, until COMMIT or RollbackIfOpen) every statement after a loss fails with kIo,
// so the rest of a transaction never runs on a new session without its BEGIN and its lock. A
// failed statement is never retried here (the caller decides). Every outcome is reported to
// GlobalStoreHealth() (db/store_health.h).
class PgConn {
 public:
  // kIo if the server cannot be reached or refuses; the detail never shows the conninfo.
  // statement_timeout_ms: the session's statement_timeout (0: none) unless the conninfo's
  // `options` set one.
  static Result<std::unique_ptr<PgConn>> Connect(const std::string& conninfo,
                                                 int statement_timeout_ms = kPgStatementTimeoutMs);

  // One statement (PQexecParams: never several), its values bound; rows for a query.
  Result<PgRows> Query(const char* sql, const PgParams& params = {});
  // The same for a statement whose rows, if any, are not wanted. Returns the rows it affected.
  Result<int64_t> Run(const char* sql, const PgParams& params = {});
  // A RowQuery (db/row_view.h) on this connection, for the backend-neutral audit walk.
  RowQuery Rows();

  // Ends an open transaction, if any (after a failure); errors are ignored.
  void RollbackIfOpen();
  // Inside a transaction: no statement_timeout (and no client deadline) until it ends, for a
  // statement that legitimately runs long (the audit walk reads every event).
  Result<void> LiftStatementTimeout();

 private:
  using Clock = std::chrono::steady_clock;
  PgConn(std::string conninfo, int statement_timeout_ms, PgConnPtr conn)
      : conninfo_(std::move(conninfo)),
        statement_timeout_ms_(statement_timeout_ms),
        conn_(std::move(conn)) {}
  // A new session with the fixed settings, or kIo. Never shows the conninfo.
  static Result<PgConnPtr> Open(const std::string& conninfo, int statement_timeout_ms);
  // Before a statement: a live session, made again if it was dropped (see the class comment).
  Result<void> Ready(const char* sql);
  // After a failed statement: drops the session if the failure calls for it.
  void AfterFailure(const PGresult* result);
  void ScheduleNextAttempt();
  Result<PgResultPtr> Exec(const char* sql, const PgParams& params);
  PgResultPtr Await(const char* sql);
  void EndTransaction();

  const std::string conninfo_;
  const int statement_timeout_ms_;
  PgConnPtr conn_;
  bool in_transaction_ = false;  // between our BEGIN and its COMMIT / ROLLBACK
  bool lifted_ = false;          // LiftStatementTimeout, until the transaction ends
  bool drop_ = false;            // make a new session before the next statement
  uint64_t epoch_ = 0;           // g_session_epoch (pg_conn.cc) when this session was made
  int failures_ = 0;             // connects failed and sessions dropped since the last success
  Clock::time_point next_attempt_{};
  std::string last_failure_;  // why, for the fail-fast error
  std::string timed_out_;     // why Await closed the session
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
