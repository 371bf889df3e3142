// sql_session.h — one connection as the engine-neutral store code (sql_store.h) uses it: a
// statement with bound values and its rows, a write transaction, the audit chain's append.
// SqliteStore and PgStore each provide one over their own connection.
// Private to db/.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "db/records.h"
#include "db/row_view.h"

namespace db {

// The values of one statement: the first is $1, the next $2, ... (SQL written once for both
// engines names its parameters $1, $2, ...; SQLite binds each by that name). Values are copied.
class SqlParams {
 public:
  struct Value {
    enum class Kind { kNull, kText, kInt, kBlob };
    Kind kind = Kind::kNull;
    std::string text;  // kText, and kBlob's bytes
    int64_t number = 0;
  };
  SqlParams& Text(std::string_view text) {
    values_.push_back(Value{Value::Kind::kText, std::string(text), 0});
    return *this;
  }
  SqlParams& TextOrNull(std::string_view text) { return text.empty() ? Null() : Text(text); }
  SqlParams& OptionalText(const std::optional<std::string>& text) {
    return text ? Text(*text) : Null();
  }
  SqlParams& Int(int64_t value) {
    values_.push_back(Value{Value::Kind::kInt, {}, value});
    return *this;
  }
  SqlParams& OptionalInt(std::optional<int64_t> value) { return value ? Int(*value) : Null(); }
  SqlParams& Blob(std::span<const unsigned char> bytes) {  // empty binds NULL
    if (bytes.empty()) return Null();
    values_.push_back(Value{Value::Kind::kBlob, std::string(bytes.begin(), bytes.end()), 0});
    return *this;
  }
  // A SHA-256 column (32 bytes since SQLite schema 13 / PostgreSQL 10, db/row_read.h): lowercase
  // hex in, its 32 bytes bound; "" binds NULL, anything else the text, which the columns refuse
  // (row_read.cc).
  SqlParams& Sha256(std::string_view hex);
  SqlParams& Null() {
    values_.push_back(Value{});
    return *this;
  }
  const std::vector<Value>& values() const { return values_; }

 private:
  std::vector<Value> values_;
};

class SqlSession {
 public:
  // Runs one statement with `params` bound, calling `visit` (may be empty) for each row it
  // returns, in order, and runs it to its end.
  virtual Result<void> Query(const char* sql, const SqlParams& params, const RowVisitor& visit) = 0;
  // Runs `body` in a write transaction holding the store's write lock (SQLite BEGIN IMMEDIATE;
  // PostgreSQL the audit_head row): committed if it succeeds, else rolled back.
  virtual Result<void> InWrite(const std::function<Result<void>()>& body) = 0;
  // Appends `event` to the audit hash chain, inside InWrite. `serial_hex` "" stores NULL.
  virtual Result<void> AppendEvent(const EventRecord& event, std::string_view serial_hex) = 0;

 protected:
  ~SqlSession() = default;
};

// A boolean column: SQLite gives 1 / 0, PostgreSQL t / f.
inline bool Truth(const RowView& row, int column) {
  const std::string text = row.Text(column);
  return text == "1" || text == "t";
}

}  // namespace db
