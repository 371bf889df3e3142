// statement.h — owns SQLite handles (connection, prepared statement, the statements a connection
// keeps compiled) and converts each SQLite result code into a db::Error once, at the call that
// returned it.
// Private to db/.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "db/records.h"
#include "db/row_view.h"

namespace db {

struct CloseConnection {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using ConnectionPtr = std::unique_ptr<sqlite3, CloseConnection>;

struct FinalizeStatement {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using StatementPtr = std::unique_ptr<sqlite3_stmt, FinalizeStatement>;

using base::Fail;

// Maps `rc` (an extended result code) returned by `call` to an Error whose detail names the call
// and carries sqlite3_errmsg(db). Call it before any other API call on `db` overwrites the message.
// `db` may be null (sqlite3_open_v2 out of memory).
Error SqliteError(sqlite3* db, int rc, std::string_view call);

// One prepared statement. Parameters are 1-based, columns 0-based, as in the C API.
//
// Bind* never fail on their own: the first failure is kept and returned by Step()/Run(), so an
// INSERT reads as a list of binds followed by one checked call. Text and blobs are copied
// (SQLITE_TRANSIENT), so arguments need not outlive the call.
//
// A Statement from Connection::Prepare goes back to that connection's cache when destroyed
// (reset, bindings cleared), so it must not outlive its Connection; one from Statement::Prepare
// is finalized.
class Statement final : public RowView {
 public:
  // A statement of its own, finalized with the Statement: for SQL built at run time and SQL run
  // once (migrations). kInternal for a SQL error (a bug in our SQL), kCorrupt if the schema cannot
  // be read, etc.
  static Result<Statement> Prepare(sqlite3* db, std::string_view sql);

  void BindText(int index, std::string_view text);
  // An empty string binds NULL: used where the schema says "NULL unless ...".
  void BindTextOrNull(int index, std::string_view text);
  void BindOptionalText(int index, const std::optional<std::string>& text);
  // Note: SQLite binds an empty blob as NULL, so NOT NULL blob columns reject empty input.
  void BindBlob(int index, std::span<const unsigned char> bytes);
  void BindInt(int index, int64_t value);
  void BindOptionalInt(int index, std::optional<int64_t> value);
  // The index of a named parameter ("$1", ":name"); 0 if the statement has none of that name.
  int ParameterIndex(const char* name) const;

  // true: a row is ready for the column getters; false: the statement has finished.
  Result<bool> Step();
  // Steps a statement that returns no rows (INSERT, PRAGMA x = y) to completion.
  Result<void> Run();

  bool IsNull(int column) const override;
  std::string Text(int column) const override;  // "" for NULL
  std::vector<unsigned char> Blob(int column) const override;
  int64_t Int(int column) const override;

 private:
  friend class Connection;
  // Disposes of the handle when the Statement goes: finalizes it, or, if it belongs to a
  // Connection's cache, resets it, clears its bindings and marks it idle there.
  struct Release {
    bool* cached_in_use = nullptr;  // the cache entry's flag; null: not cached
    void operator()(sqlite3_stmt* stmt) const;
  };
  Statement(sqlite3* db, sqlite3_stmt* stmt, Release release) : db_(db), stmt_(stmt, release) {}
  void NoteBind(int rc, int index);
  std::string Label() const;  // the start of the SQL, to name the statement in errors

  sqlite3* db_;  // not owned
  std::unique_ptr<sqlite3_stmt, Release> stmt_;
  std::optional<Error> bind_error_;
};

// One SQLite connection and the statements compiled on it, kept for reuse: compiling (parsing
// and planning) costs more than running most of our statements. Not thread-safe; its owner
// serializes use (the Store's mutexes).
//
// The cache, keyed by SQL text, holds each statement compiled with SQLITE_PREPARE_PERSISTENT and
// either idle or handed out to exactly one Statement:
//   absent   --Prepare-->   in use (compiled now)
//   idle     --Prepare-->   in use
//   in use   --Prepare-->   in use, and the caller gets a fresh statement of its own, finalized
//                           after use (the same SQL again while the first is still open)
//   in use   --~Statement-> idle (sqlite3_reset + sqlite3_clear_bindings: no row, no value left)
// A schema change needs nothing: sqlite3_step recompiles a v2/v3 statement whose schema moved.
// The cache only grows, by one entry per distinct SQL text: pass it our fixed SQL constants, and
// SQL built at run time to Statement::Prepare.
class Connection {
 public:
  explicit Connection(ConnectionPtr db) : db_(std::move(db)) {}
  // Finalizes every cached statement, then closes. Every Statement it handed out must be gone.
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  sqlite3* get() const { return db_.get(); }

  // The statement for `sql`, from the cache (see above). Errors as Statement::Prepare.
  Result<Statement> Prepare(std::string_view sql);
  // Runs one parameterless statement that returns no rows (BEGIN IMMEDIATE, COMMIT, SAVEPOINT x,
  // ...) through the cache.
  Result<void> Run(std::string_view sql);

 private:
  struct Cached {
    StatementPtr stmt;
    bool in_use = false;
  };
  // Lets find() take a string_view without building a std::string.
  struct Hash : std::hash<std::string_view> {
    using is_transparent = void;
  };

  ConnectionPtr db_;
  // Node-based: a Cached never moves, so a Statement can point at its in_use flag.
  std::unordered_map<std::string, Cached, Hash, std::equal_to<>> cache_;
};

// Runs SQL without parameters (PRAGMAs, migration scripts), compiled for this one call; may hold
// several statements. Never pass it a value from outside: values go through Statement::Bind*.
Result<void> Exec(sqlite3* db, const std::string& sql);

// The first column of the first row of a parameterless query (PRAGMA x).
Result<std::string> QueryText(sqlite3* db, std::string_view sql);
Result<int64_t> QueryInt(sqlite3* db, std::string_view sql);

// A RowQuery (db/row_view.h) on this connection: each query compiled for the call, stepped to the
// end. `db` must outlive it.
RowQuery QueryRows(sqlite3* db);

// Rolls back the open transaction, if SQLite has not already done so itself (it does after some
// SQLITE_FULL / SQLITE_IOERR / SQLITE_BUSY failures, which is why we ask sqlite3_get_autocommit).
void RollbackIfOpen(sqlite3* db);

// Runs `body` between BEGIN IMMEDIATE and COMMIT. IMMEDIATE takes the write lock up front, so a
// competing writer waits in busy_timeout here rather than failing half-way through the body.
// Success: committed. Failure (of BEGIN, body or COMMIT): rolled back, the first error returned.
template <typename Body>
Result<void> InWriteTransaction(Connection& db, Body&& body) {
  if (auto begun = db.Run("BEGIN IMMEDIATE"); !begun) return begun;
  Result<void> result = body();
  if (result) result = db.Run("COMMIT");
  if (!result) RollbackIfOpen(db.get());
  return result;
}

// The same on a bare handle, for the migrations (which run before the Store owns the connection).
template <typename Body>
Result<void> InWriteTransaction(sqlite3* db, Body&& body) {
  if (auto begun = Exec(db, "BEGIN IMMEDIATE"); !begun) return begun;
  Result<void> result = body();
  if (result) result = Exec(db, "COMMIT");
  if (!result) RollbackIfOpen(db);
  return result;
}

}  // namespace db
