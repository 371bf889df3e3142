// sqlite_session.h — SQLite's SqlSession (sql_session.h) over one Connection: each $n bound by
// its name, BEGIN IMMEDIATE for a write, the chained event insert of db/audit.h.
// Private to db/.
#pragma once

#include "db/sql_session.h"
#include "db/statement.h"

namespace db {

class SqliteSession final : public SqlSession {
 public:
  explicit SqliteSession(Connection& db) : db_(db) {}
  Result<void> Query(const char* sql, const SqlParams& params, const RowVisitor& visit) override;
  Result<void> InWrite(const std::function<Result<void>()>& body) override;
  Result<void> AppendEvent(const EventRecord& event, std::string_view serial_hex) override;

 private:
  Connection& db_;
};

}  // namespace db
