// statement.cc — the SQLite result-code mapping and the prepared-statement wrapper. Every SQLite
// call in db/ reports failure through SqliteError, so the mapping lives in exactly one place.
#include "db/statement.h"

#include <utility>

namespace db {
namespace {

// The one place SQLite result codes become db::Code. Extended codes are enabled on every
// connection, so `rc & 0xff` is the primary code and `rc` itself can be compared to
// SQLITE_CONSTRAINT_UNIQUE and friends.
Code MapCode(int rc, std::string_view message) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Code::kBusy;
    case SQLITE_FULL:
      return Code::kFull;
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
      return Code::kIo;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Code::kCorrupt;
    case SQLITE_CONSTRAINT:
      // Only a serial collision is worth a retry with a new serial; a duplicate fingerprint or a
      // trigger refusing the write is not. SQLite names the column only in the message:
      // "UNIQUE constraint failed: certificates.serial"; issuance_intents.serial is its primary
      // key, reported as SQLITE_CONSTRAINT_PRIMARYKEY.
      if ((rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) &&
          (message.find("certificates.serial") != std::string_view::npos ||
           message.find("issuance_intents.serial") != std::string_view::npos)) {
        return Code::kDuplicateSerial;
      }
      return Code::kConstraint;
    default:
      return Code::kInternal;
  }
}

}  // namespace

Error SqliteError(sqlite3* db, int rc, std::string_view call) {
  // With a null handle sqlite3_errmsg reports "out of memory", which is what a null handle means.
  std::string message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  Code code = MapCode(rc, message);
  std::string detail(call);
  detail += ": ";
  detail += message;
  detail += " (";
  detail += std::to_string(rc);
  detail += ")";
  return Error{code, std::move(detail)};
}

namespace {

// sqlite3_prepare_v3 with `flags`; on failure nothing is left to finalize.
Result<StatementPtr> Compile(sqlite3* db, std::string_view sql, unsigned int flags) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), flags, &raw, nullptr);
  StatementPtr stmt(raw);  // owns `raw` from here, even on failure
  if (rc != SQLITE_OK) {
    std::string call = "sqlite3_prepare_v3(";
    call += sql.substr(0, 48);
    call += ")";
    return std::unexpected(SqliteError(db, rc, call));
  }
  return stmt;
}

}  // namespace

void Statement::Release::operator()(sqlite3_stmt* stmt) const {
  if (cached_in_use == nullptr) {
    sqlite3_finalize(stmt);
    return;
  }
  // sqlite3_reset repeats the last step's error, which the caller has already had.
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);
  *cached_in_use = false;
}

Result<Statement> Statement::Prepare(sqlite3* db, std::string_view sql) {
  auto compiled = Compile(db, sql, 0);
  if (!compiled) return std::unexpected(compiled.error());
  return Statement(db, compiled->release(), Release{});
}

Connection::~Connection() {
  // Before db_ closes: sqlite3_close_v2 would otherwise leave the connection open as a zombie
  // until the last statement was finalized, which here would be never.
  cache_.clear();
}

Result<Statement> Connection::Prepare(std::string_view sql) {
  auto found = cache_.find(sql);
  if (found == cache_.end()) {
    auto compiled = Compile(get(), sql, SQLITE_PREPARE_PERSISTENT);
    if (!compiled) return std::unexpected(compiled.error());
    // Only whitespace or a comment compiles to no statement; leave that to Statement::Prepare.
    if (*compiled == nullptr) return Statement::Prepare(get(), sql);
    found = cache_.emplace(std::string(sql), Cached{std::move(*compiled), false}).first;
  }
  Cached& cached = found->second;
  if (cached.in_use) return Statement::Prepare(get(), sql);
  cached.in_use = true;
  return Statement(get(), cached.stmt.get(), Statement::Release{&cached.in_use});
}

Result<void> Connection::Run(std::string_view sql) {
  auto stmt = Prepare(sql);
  if (!stmt) return std::unexpected(stmt.error());
  return stmt->Run();
}

std::string Statement::Label() const {
  std::string_view sql = sqlite3_sql(stmt_.get());
  return std::string(sql.substr(0, 48));
}

void Statement::NoteBind(int rc, int index) {
  if (rc == SQLITE_OK || bind_error_) return;
  bind_error_ = SqliteError(db_, rc, "sqlite3_bind #" + std::to_string(index) + " " + Label());
}

void Statement::BindText(int index, std::string_view text) {
  NoteBind(sqlite3_bind_text64(stmt_.get(), index, text.data(), text.size(), SQLITE_TRANSIENT,
                               SQLITE_UTF8),
           index);
}

void Statement::BindTextOrNull(int index, std::string_view text) {
  if (text.empty()) {
    NoteBind(sqlite3_bind_null(stmt_.get(), index), index);
  } else {
    BindText(index, text);
  }
}

void Statement::BindOptionalText(int index, const std::optional<std::string>& text) {
  if (text) {
    BindText(index, *text);
  } else {
    NoteBind(sqlite3_bind_null(stmt_.get(), index), index);
  }
}

void Statement::BindBlob(int index, std::span<const unsigned char> bytes) {
  NoteBind(sqlite3_bind_blob64(stmt_.get(), index, bytes.data(), bytes.size(), SQLITE_TRANSIENT),
           index);
}

int Statement::ParameterIndex(const char* name) const {
  return sqlite3_bind_parameter_index(stmt_.get(), name);
}

void Statement::BindInt(int index, int64_t value) {
  NoteBind(sqlite3_bind_int64(stmt_.get(), index, value), index);
}

void Statement::BindOptionalInt(int index, std::optional<int64_t> value) {
  if (value) {
    BindInt(index, *value);
  } else {
    NoteBind(sqlite3_bind_null(stmt_.get(), index), index);
  }
}

Result<bool> Statement::Step() {
  if (bind_error_) return std::unexpected(*bind_error_);
  int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return std::unexpected(SqliteError(db_, rc, "sqlite3_step(" + Label() + ")"));
}

Result<void> Statement::Run() {
  auto stepped = Step();
  if (!stepped) return std::unexpected(stepped.error());
  return {};
}

bool Statement::IsNull(int column) const {
  return sqlite3_column_type(stmt_.get(), column) == SQLITE_NULL;
}

std::string Statement::Text(int column) const {
  // Order matters: sqlite3_column_bytes after sqlite3_column_text measures the UTF-8 form.
  const unsigned char* text = sqlite3_column_text(stmt_.get(), column);
  int size = sqlite3_column_bytes(stmt_.get(), column);
  if (text == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(text), static_cast<size_t>(size));
}

std::vector<unsigned char> Statement::Blob(int column) const {
  const auto* bytes = static_cast<const unsigned char*>(sqlite3_column_blob(stmt_.get(), column));
  int size = sqlite3_column_bytes(stmt_.get(), column);
  if (bytes == nullptr) return {};
  return std::vector<unsigned char>(bytes, bytes + size);
}

int64_t Statement::Int(int column) const { return sqlite3_column_int64(stmt_.get(), column); }

Result<void> Exec(sqlite3* db, const std::string& sql) {
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    return std::unexpected(SqliteError(db, rc, "sqlite3_exec(" + sql.substr(0, 48) + ")"));
  }
  return {};
}

Result<std::string> QueryText(sqlite3* db, std::string_view sql) {
  auto stmt = Statement::Prepare(db, sql);
  if (!stmt) return std::unexpected(stmt.error());
  auto row = stmt->Step();
  if (!row) return std::unexpected(row.error());
  if (!*row) return Fail(Code::kInternal, std::string(sql) + ": returned no row");
  return stmt->Text(0);
}

Result<int64_t> QueryInt(sqlite3* db, std::string_view sql) {
  auto stmt = Statement::Prepare(db, sql);
  if (!stmt) return std::unexpected(stmt.error());
  auto row = stmt->Step();
  if (!row) return std::unexpected(row.error());
  if (!*row) return Fail(Code::kInternal, std::string(sql) + ": returned no row");
  return stmt->Int(0);
}

RowQuery QueryRows(sqlite3* db) {
  return [db](const char* sql, const RowVisitor& visit) -> Result<void> {
    auto stmt = Statement::Prepare(db, sql);
    if (!stmt) return std::unexpected(stmt.error());
    for (;;) {
      auto row = stmt->Step();
      if (!row) return std::unexpected(row.error());
      if (!*row) return {};
      visit(*stmt);
    }
  };
}

void RollbackIfOpen(sqlite3* db) {
  // The caller already holds the error that matters, and nothing uncommitted becomes durable
  // whether or not ROLLBACK itself succeeds, so its result is not reported separately.
  if (sqlite3_get_autocommit(db) == 0) {
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
  }
}

}  // namespace db
