// schema_connection.cc — readying a SQLite connection (schema.h): the per-connection settings
// durability depends on, the schema version check and the migrations (schema.cc) on first open.
#include <string>

#include "db/schema.h"
#include "db/sqlite_store.h"
#include "db/statement.h"

namespace db {
namespace {

Result<void> ApplySettings(sqlite3* db) {
  // A new file gets pages of 8 KiB (SQLite's default is 4): a certificate row (~830 B since
  // schema 13) fits 9 to a page instead of 4 to a 4 KiB one, ~115 B less per enrollment
  // (docs/benchmarks.md). Only before the file's first write; an existing file keeps its size
  // (in WAL mode not even VACUUM changes it).
  if (auto r = Exec(db, "PRAGMA page_size = 8192"); !r) return r;
  // journal_mode is the only one stored in the file; SQLite answers with the mode in force,
  // which is not "wal" if the file system cannot do WAL (no shared memory, e.g. some NFS).
  auto mode = QueryText(db, "PRAGMA journal_mode = WAL");
  if (!mode) return std::unexpected(mode.error());
  if (*mode != "wal") return Fail(Code::kIo, "PRAGMA journal_mode = WAL: got " + *mode);
  if (auto r = Exec(db, "PRAGMA synchronous = FULL"); !r) return r;
  // Per connection: every page this connection reads gets its cells' sizes checked against the
  // page, so a damaged page is refused (SQLITE_CORRUPT) before a write builds on it. This replaces
  // the whole-file quick_check an open used to run (docs/architecture.md, "Store integrity").
  if (auto r = Exec(db, "PRAGMA cell_size_check = ON"); !r) return r;
  // Per connection, and a no-op inside a transaction: set here, before any migration.
  return Exec(db, "PRAGMA foreign_keys = ON");
}

}  // namespace

Result<void> PrepareConnection(sqlite3* db, bool existed, bool upgrade) {
  if (int rc = sqlite3_busy_timeout(db, kBusyTimeoutMs); rc != SQLITE_OK) {
    return std::unexpected(SqliteError(db, rc, "sqlite3_busy_timeout"));
  }
  auto version = QueryInt(db, "PRAGMA user_version");
  if (!version) return std::unexpected(version.error());
  // Negative versions were never written by us: refuse rather than guess.
  if (*version > kSchemaVersion || *version < 0) {
    return Fail(Code::kSchema, "PRAGMA user_version: file is at schema version " +
                                   std::to_string(*version) + ", this program knows up to " +
                                   std::to_string(kSchemaVersion));
  }
  if (existed && !upgrade && *version < kSchemaVersion) {
    return Fail(Code::kSchema, "the database is at schema version " + std::to_string(*version) +
                                   ", this program needs " + std::to_string(kSchemaVersion) +
                                   "; run provisiond migrate first");
  }
  if (auto r = ApplySettings(db); !r) return r;
  return MigrateTo(db, kSchemaVersion);
}

Result<void> PrepareExtraConnection(sqlite3* db) {
  if (int rc = sqlite3_busy_timeout(db, kBusyTimeoutMs); rc != SQLITE_OK) {
    return std::unexpected(SqliteError(db, rc, "sqlite3_busy_timeout"));
  }
  auto version = QueryInt(db, "PRAGMA user_version");
  if (!version) return std::unexpected(version.error());
  if (*version != kSchemaVersion) {
    return Fail(Code::kSchema, "PRAGMA user_version: second connection found schema version " +
                                   std::to_string(*version) + ", expected " +
                                   std::to_string(kSchemaVersion));
  }
  // WAL is stored in the file, so this only reads it back (it is a no-op once in WAL).
  return ApplySettings(db);
}

}  // namespace db
