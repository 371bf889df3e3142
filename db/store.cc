// store.cc — SqliteStore: opening the file, its session for the shared methods (sql_store.cc:
// revocation, denylist, blocks, CRL, listings), events and the audit check. The schema and its
// migrations are in schema.cc, the event hash chain in audit.cc, the issuance writes in
// sql_issuance.cc and group commit in writer.cc.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>

#include "db/audit.h"
#include "db/audit_state.h"
#include "db/audit_tidy.h"
#include "db/schema.h"
#include "db/sqlite_session.h"
#include "db/sqlite_store.h"
#include "db/statement.h"

namespace db {
namespace {

// Creates `path` with mode 0600 unless it exists. true: created now; false: it already existed.
// Creating it ourselves, rather than letting SQLite do it, means the file is never readable by
// others, not even briefly, whatever the umask (SQLite gives -wal and -shm the same mode).
Result<bool> CreateFileIfAbsent(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return false;
    return Fail(Code::kIo, "open(" + path + "): " + std::strerror(errno));
  }
  // The umask can only have removed bits; put back exactly owner read/write.
  int chmod_rc = ::fchmod(fd, 0600);
  int chmod_errno = errno;
  ::close(fd);
  if (chmod_rc != 0) {
    return Fail(Code::kIo, "fchmod(" + path + "): " + std::strerror(chmod_errno));
  }
  return true;
}

// Above what the default wal_autocheckpoint (1000 pages) lets the WAL reach, so that in use the
// file keeps its size (its fdatasync then has no size change to commit).
constexpr int64_t kWalSizeLimitBytes = 8 << 20;

// The -wal file outlives every connection (SQLITE_FCNTL_PERSIST_WAL): the last one to close still
// checkpoints it into the database (which is then complete on its own, as a copy of the file
// needs), but truncates it to 0 bytes (journal_size_limit >= 0) rather than unlinking it. Each
// admin command that finds no daemon running used to create it (an fdatasync of the directory)
// and unlink it again at exit; it now reuses it. Durability is unchanged: every commit is still
// synced to the WAL (synchronous = FULL).
Result<void> KeepWalFile(sqlite3* db) {
  int persist = 1;
  if (int rc = sqlite3_file_control(db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
      rc != SQLITE_OK) {
    return std::unexpected(SqliteError(db, rc, "SQLITE_FCNTL_PERSIST_WAL"));
  }
  return Exec(db, "PRAGMA journal_size_limit = " + std::to_string(kWalSizeLimitBytes));
}

// sqlite3_open_v2 on an existing file, with extended result codes. No SQLITE_OPEN_CREATE: the
// file exists (CreateFileIfAbsent); if it vanished since, fail.
//
// SQLITE_OPEN_NOMUTEX (SQLite's "multi-thread" mode: no mutex around each API call on this
// connection) is safe because no connection is ever used by two threads at once: SqliteStore::Open
// uses both before any other thread can see the Store, then every use of db_ holds mu_ and
// every use of batch_db_ (the Writer's) holds batch_mu_, and the destructor runs when no one
// else may use the Store. A new use of either connection must hold its mutex too.
Result<std::unique_ptr<Connection>> OpenConnection(const std::string& path) {
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_EXRESCODE | SQLITE_OPEN_NOMUTEX, nullptr);
  ConnectionPtr db(raw);  // SQLite may hand back a handle even on failure; it must be closed
  if (rc != SQLITE_OK) return std::unexpected(SqliteError(db.get(), rc, "sqlite3_open_v2"));
  sqlite3_extended_result_codes(db.get(), 1);
  // SQLite falls back to read-only when the file cannot be opened for writing (a read-only file
  // system, permissions). With no -wal/-shm there it then failed at the first read; now that the
  // -wal and -shm files stay, it would run read-only and fail only at the first write: refuse
  // here, as before, with one line.
  if (sqlite3_db_readonly(db.get(), "main") == 1) {
    return Fail(Code::kIo,
                path + ": read-only (file system or permissions); the store must be writable");
  }
  if (auto kept = KeepWalFile(db.get()); !kept) return std::unexpected(kept.error());
  return std::make_unique<Connection>(std::move(db));
}

}  // namespace

SqliteStore::SqliteStore(std::string path, std::unique_ptr<Connection> db,
                         std::unique_ptr<Connection> batch_db)
    : path_(std::move(path)), db_(std::move(db)), batch_db_(std::move(batch_db)) {}

// Every Statement is gone before its method returns, so each Connection finalizes all of its
// statements and closes at once.
SqliteStore::~SqliteStore() = default;

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path, Upgrade upgrade) {
  auto created = CreateFileIfAbsent(path);
  if (!created) return std::unexpected(created.error());

  auto db = OpenConnection(path);
  if (!db) return std::unexpected(db.error());
  if (auto ready = PrepareConnection((*db)->get(), !*created, upgrade == Upgrade::kInPlace); !ready) {
    return std::unexpected(ready.error());
  }
  // Opened after the migrations, so it finds the file at kSchemaVersion.
  auto batch_db = OpenConnection(path);
  if (!batch_db) return std::unexpected(batch_db.error());
  if (auto ready = PrepareExtraConnection((*batch_db)->get()); !ready) {
    return std::unexpected(ready.error());
  }
  // The Writer's statements each change a few rows, and an INSERT into a table with UNIQUE
  // indexes inside its group transaction needs a statement journal (the pages it changed, to
  // undo that statement alone). On disk-backed temp storage SQLite holds it in memory up to
  // 64 KiB, allocated as one 64 KiB chunk: above serve's M_MMAP_THRESHOLD, so two mmap/munmap
  // pairs and their page faults per enrollment. With temp_store = MEMORY the journal is kept in
  // ~1 KiB pieces from the heap. It is never synced either way: durability is the WAL's.
  if (auto r = Exec((*batch_db)->get(), "PRAGMA temp_store = MEMORY"); !r) {
    return std::unexpected(r.error());
  }
  return std::unique_ptr<SqliteStore>(
      new SqliteStore(path, std::move(*db), std::move(*batch_db)));
}

Result<void> SqliteStore::WithSession(const std::function<Result<void>(SqlSession&)>& body) {
  std::lock_guard lock(mu_);
  SqliteSession session(*db_);
  return body(session);
}

Result<void> SqliteStore::WithTidySession(
    const std::function<Result<void>(SqlSession&)>& body) {
  std::lock_guard lock(mu_);
  // Outside any transaction (the pragma is a no-op inside one), on this connection only.
  if (auto off = db_->Run("PRAGMA foreign_keys = OFF"); !off) return off;
  SqliteSession session(*db_);
  auto done = body(session);
  if (auto on = db_->Run("PRAGMA foreign_keys = ON"); !on && done) return on;
  return done;
}

Result<AuditReport> SqliteStore::VerifyAuditChain() {
  std::lock_guard lock(mu_);
  // One read transaction: the chain and the state tables are read in the same snapshot.
  if (auto begun = db_->Run("BEGIN"); !begun) return std::unexpected(begun.error());
  const RowQuery query = QueryRows(db_->get());
  auto base = ReadChainBase(query);  // a truncated chain's start (db/audit_tidy.h)
  auto report = base ? VerifyEventChain(query, *base) : std::unexpected(base.error());
  if (report) {
    if (auto checked = VerifyStateAgainstChain(query, *report); !checked) {
      report = std::unexpected(checked.error());
    }
  }
  RollbackIfOpen(db_->get());
  return report;
}

Result<SqliteStore::Settings> SqliteStore::EffectiveSettings() {
  std::lock_guard lock(mu_);
  Settings settings;
  auto journal_mode = QueryText(db_->get(), "PRAGMA journal_mode");
  if (!journal_mode) return std::unexpected(journal_mode.error());
  settings.journal_mode = *journal_mode;
  struct IntPragma {
    const char* sql;
    int* out;
  };
  const IntPragma int_pragmas[] = {
      {"PRAGMA synchronous", &settings.synchronous},
      {"PRAGMA foreign_keys", &settings.foreign_keys},
      {"PRAGMA busy_timeout", &settings.busy_timeout_ms},
      {"PRAGMA user_version", &settings.user_version},
  };
  for (const IntPragma& pragma : int_pragmas) {
    auto value = QueryInt(db_->get(), pragma.sql);
    if (!value) return std::unexpected(value.error());
    *pragma.out = static_cast<int>(*value);
  }
  std::lock_guard batch_lock(batch_mu_);
  auto writer_temp_store = QueryInt(batch_db_->get(), "PRAGMA temp_store");
  if (!writer_temp_store) return std::unexpected(writer_temp_store.error());
  settings.writer_temp_store = static_cast<int>(*writer_temp_store);
  return settings;
}

}  // namespace db
