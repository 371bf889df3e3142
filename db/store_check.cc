// store_check.cc — SqliteFileCheck: PRAGMA quick_check on a read-only connection of its own
// (store_check.h).
#include "db/store_check.h"

#include <sqlite3.h>

#include <chrono>

#include "db/schema.h"
#include "db/statement.h"

namespace db {

Result<FileCheck> SqliteFileCheck::Run(const std::string& path) {
  const auto start = std::chrono::steady_clock::now();
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw,
                           SQLITE_OPEN_READONLY | SQLITE_OPEN_EXRESCODE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  ConnectionPtr db(raw);
  if (rc != SQLITE_OK) return std::unexpected(SqliteError(db.get(), rc, "sqlite3_open_v2"));
  if (rc = sqlite3_busy_timeout(db.get(), kBusyTimeoutMs); rc != SQLITE_OK) {
    return std::unexpected(SqliteError(db.get(), rc, "sqlite3_busy_timeout"));
  }
  if (auto r = Exec(db.get(), "PRAGMA cell_size_check = ON"); !r) return std::unexpected(r.error());
  FileCheck check;
  auto pages = QueryInt(db.get(), "PRAGMA page_count");
  if (!pages) return std::unexpected(pages.error());
  check.pages = *pages;
  {
    std::lock_guard lock(mu_);
    if (interrupted_) return check;
    db_ = db.get();
  }
  // quick_check answers a single "ok", or one row per problem found.
  auto verdict = QueryText(db.get(), "PRAGMA quick_check");
  bool interrupted;
  {
    std::lock_guard lock(mu_);
    db_ = nullptr;
    interrupted = interrupted_;
  }
  check.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (interrupted) return check;  // whatever it said: an interrupted check has no verdict
  if (!verdict) return std::unexpected(verdict.error());
  if (*verdict != "ok") {
    // The first two lines: SQLite's "*** in database main ***" header and the first problem.
    std::string first = verdict->substr(0, verdict->find('\n', verdict->find('\n') + 1));
    for (char& c : first) c = c == '\n' ? ' ' : c;
    return Fail(Code::kCorrupt, "the database is corrupt (PRAGMA quick_check: " + first +
                                    "); restore it from a backup");
  }
  check.finished = true;
  return check;
}

void SqliteFileCheck::Interrupt() {
  std::lock_guard lock(mu_);
  interrupted_ = true;
  if (db_ != nullptr) sqlite3_interrupt(db_);
}

}  // namespace db
