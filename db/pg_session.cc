// pg_session.cc — PostgreSQL's SqlSession (pg_ops.h): the shared statements run through
// PQexecParams with every value bound.
#include <string>

#include "db/pg_ops.h"

namespace db {

Result<void> PgSession::Query(const char* sql, const SqlParams& params, const RowVisitor& visit) {
  PgParams bound;
  for (const SqlParams::Value& value : params.values()) {
    switch (value.kind) {
      case SqlParams::Value::Kind::kText: bound.Text(value.text); break;
      case SqlParams::Value::Kind::kInt: bound.Int(value.number); break;
      case SqlParams::Value::Kind::kBlob:
        bound.Bytes(std::span(reinterpret_cast<const unsigned char*>(value.text.data()),
                              value.text.size()));
        break;
      case SqlParams::Value::Kind::kNull: bound.OptionalText(std::nullopt); break;
    }
  }
  auto rows = db_.Query(sql, bound);
  if (!rows) return std::unexpected(rows.error());
  if (visit) {
    for (int i = 0; i < rows->size(); ++i) visit(rows->Row(i));
  }
  return {};
}

Result<void> PgSession::InWrite(const std::function<Result<void>()>& body) {
  return InPgWriteTransaction(db_, body);
}

Result<void> PgSession::AppendEvent(const EventRecord& event, std::string_view serial_hex) {
  return PgAppendEvent(db_, event, serial_hex);
}

}  // namespace db
