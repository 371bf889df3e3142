// ca_generation_states.cc — ReadCaGenerationStates and ReadPgCaGenerationStates
// (ca_generation_states.h).
#include "db/ca_generation_states.h"

#include <sqlite3.h>

#include "db/pg_conn.h"
#include "db/schema.h"
#include "db/statement.h"

namespace db {

Result<std::map<int64_t, std::string>> ReadCaGenerationStates(const std::string& sqlite_path) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(sqlite_path.c_str(), &raw,
                           SQLITE_OPEN_READONLY | SQLITE_OPEN_EXRESCODE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  ConnectionPtr db(raw);
  if (rc != SQLITE_OK) return std::unexpected(SqliteError(db.get(), rc, "sqlite3_open_v2"));
  if (rc = sqlite3_busy_timeout(db.get(), kBusyTimeoutMs); rc != SQLITE_OK) {
    return std::unexpected(SqliteError(db.get(), rc, "sqlite3_busy_timeout"));
  }
  std::map<int64_t, std::string> states;
  auto table = Statement::Prepare(
      db.get(), "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1");
  if (!table) return std::unexpected(table.error());
  table->BindText(1, "ca_generations");
  auto has = table->Step();
  if (!has) return std::unexpected(has.error());
  if (!*has || table->Int(0) == 0) return states;
  auto rows = Statement::Prepare(db.get(), "SELECT gen, state FROM ca_generations ORDER BY gen");
  if (!rows) return std::unexpected(rows.error());
  for (;;) {
    auto row = rows->Step();
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    states[rows->Int(0)] = rows->Text(1);
  }
  return states;
}

Result<std::map<int64_t, std::string>> ReadPgCaGenerationStates(const std::string& conninfo) {
  auto db = PgConn::Connect(conninfo);
  if (!db) return std::unexpected(db.error());
  std::map<int64_t, std::string> states;
  auto table =
      (*db)->Query("SELECT to_regclass($1) IS NOT NULL", PgParams().Text("ca_generations"));
  if (!table) return std::unexpected(table.error());
  if (table->empty() || table->Row(0).Text(0) != "t") return states;
  auto rows = (*db)->Query("SELECT gen, state FROM ca_generations ORDER BY gen");
  if (!rows) return std::unexpected(rows.error());
  for (int i = 0; i < rows->size(); ++i) states[rows->Row(i).Int(0)] = rows->Row(i).Text(1);
  return states;
}

}  // namespace db
