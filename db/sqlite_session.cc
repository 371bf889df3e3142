// sqlite_session.cc — SQLite's SqlSession (see sqlite_session.h).
#include "db/sqlite_session.h"

#include <string>

#include "db/audit.h"

namespace db {

Result<void> SqliteSession::Query(const char* sql, const SqlParams& params,
                                  const RowVisitor& visit) {
  auto stmt = db_.Prepare(sql);
  if (!stmt) return std::unexpected(stmt.error());
  for (size_t i = 0; i < params.values().size(); ++i) {
    const std::string name = "$" + std::to_string(i + 1);
    const int index = stmt->ParameterIndex(name.c_str());
    if (index == 0) return Fail(Code::kInternal, "no parameter " + name + " in: " + sql);
    const SqlParams::Value& value = params.values()[i];
    switch (value.kind) {
      case SqlParams::Value::Kind::kText: stmt->BindText(index, value.text); break;
      case SqlParams::Value::Kind::kInt: stmt->BindInt(index, value.number); break;
      case SqlParams::Value::Kind::kBlob:
        stmt->BindBlob(index, std::span(reinterpret_cast<const unsigned char*>(value.text.data()),
                                        value.text.size()));
        break;
      case SqlParams::Value::Kind::kNull: stmt->BindOptionalInt(index, std::nullopt); break;
    }
  }
  // Run to the end, so the statement is no longer active at COMMIT.
  for (;;) {
    auto row = stmt->Step();
    if (!row) return std::unexpected(row.error());
    if (!*row) return {};
    if (visit) visit(*stmt);
  }
}

Result<void> SqliteSession::InWrite(const std::function<Result<void>()>& body) {
  return InWriteTransaction(db_, body);
}

Result<void> SqliteSession::AppendEvent(const EventRecord& event, std::string_view serial_hex) {
  return InsertChainedEvent(db_, event, serial_hex);
}

}  // namespace db
