// sqlite_fixture.h — helpers for the SQLite-only tests of tests/db: opening a SqliteStore, and an
// independent raw sqlite3 connection to look at (or tamper with) the file behind the store's back.
#pragma once

#include <doctest/doctest.h>
#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>

#include "db/sqlite_store.h"
#include "tests/db/store_fixture.h"

namespace db::testing {

struct CloseRaw {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using RawDb = std::unique_ptr<sqlite3, CloseRaw>;

// A second connection, independent of any Store; creates the file if `create`.
inline RawDb OpenRaw(const std::string& path, bool create = false) {
  sqlite3* raw = nullptr;
  int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  RawDb db(raw);
  REQUIRE_MESSAGE(rc == SQLITE_OK, sqlite3_errstr(rc));
  sqlite3_busy_timeout(db.get(), 5000);
  return db;
}

inline void ExecRaw(sqlite3* db, const std::string& sql) {
  char* message = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
  std::string text = message != nullptr ? message : "";
  sqlite3_free(message);
  REQUIRE_MESSAGE(rc == SQLITE_OK, sql << ": " << text);
}

// The first column of the first row, as text ("" for NULL or no row).
inline std::string QueryRaw(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &raw, nullptr);
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> stmt(raw, sqlite3_finalize);
  REQUIRE_MESSAGE(rc == SQLITE_OK, sql << ": " << sqlite3_errmsg(db));
  rc = sqlite3_step(stmt.get());
  REQUIRE_MESSAGE((rc == SQLITE_ROW || rc == SQLITE_DONE), sql << ": " << sqlite3_errmsg(db));
  if (rc == SQLITE_DONE) return "";
  const unsigned char* text = sqlite3_column_text(stmt.get(), 0);
  return text != nullptr ? reinterpret_cast<const char*>(text) : "";
}

inline int64_t QueryRawInt(sqlite3* db, const std::string& sql) {
  return std::stoll(QueryRaw(db, sql));
}

inline std::unique_ptr<SqliteStore> OpenOrDie(const std::string& path) {
  auto store = SqliteStore::Open(path);
  REQUIRE_MESSAGE(store.has_value(), (store ? "" : store.error().detail));
  return std::move(*store);
}

inline int64_t RowCount(const std::string& path, const std::string& table) {
  RawDb raw = OpenRaw(path);
  return QueryRawInt(raw.get(), "SELECT count(*) FROM " + table);
}

}  // namespace db::testing
