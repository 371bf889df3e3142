// store_check.h — the whole-file check of a SQLite store (PRAGMA quick_check) on a read-only
// connection of its own, which another thread may interrupt (serve's background check).
#pragma once

#include <cstdint>
#include <mutex>
#include <string>

#include "db/records.h"

struct sqlite3;

namespace db {

struct FileCheck {
  bool finished = false;  // false: Interrupt() stopped it early (no verdict)
  int64_t pages = 0;      // PRAGMA page_count when it began
  double seconds = 0;
};

class SqliteFileCheck {
 public:
  // PRAGMA quick_check over every page of the file at `path` (which must exist; it is never
  // created or written), on a connection opened SQLITE_OPEN_READONLY with cell_size_check on, in
  // one read transaction (while it runs, a WAL checkpoint cannot pass its snapshot: the WAL may
  // grow). kCorrupt, with the first problem SQLite names, unless the file is sound; kIo if it
  // cannot be opened. Run it once per object.
  Result<FileCheck> Run(const std::string& path);
  // Thread-safe: makes a Run in progress (or about to start) return soon, unfinished.
  void Interrupt();

 private:
  std::mutex mu_;  // guards db_ and interrupted_
  sqlite3* db_ = nullptr;
  bool interrupted_ = false;
};

}  // namespace db
