// tidy_lock.cc — Store::TryLockTidy: one `provisiond tidy` at a time per store, enforced by the
// store's own host (SQLite) or server (PostgreSQL), released by it when the holder dies.
//
// Why one at a time: a tidy archives a batch of chain rows (ChainRows), then deletes from the
// chain's base as it is at that moment (TruncateChain). A second tidy moving the base between
// the two makes the first delete rows it never read: rows in no archive, and an archive that no
// longer proves the chain below the cut. Two tidies also carry the same live state twice and
// archive the same certificates twice. Each step is one correct transaction; only the sequence
// is not, so the lock is held for the whole run.
//
// SQLite: flock(2) on "<database>-tidy.lock", beside the database (where SQLite keeps its -wal
// and -shm). A SQLite store is one file on one host (WAL needs shared memory, so not a network
// file system), so a host-local lock covers every process that can open it; the kernel drops it
// when the holder exits, even by SIGKILL, so a crashed tidy never leaves the store locked (a row
// in the database would). Not a lock on the database file itself: SQLite's own locks are POSIX
// record locks, which any close() of another descriptor of that file by this process would drop.
//
// PostgreSQL: pg_try_advisory_lock(kPgTidyLockKey) on a connection of the lock's own, held for
// the run: every host running tidy against the database meets the same lock, and the server
// drops it when that session ends (the process exits or its connection is lost). Held() then
// asks the server whether this session still holds it: a connection lost and made again is a new
// session without the lock, and tidy stops.
#include <fcntl.h>
#include <sys/file.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "base/unique_fd.h"
#include "db/pg_conn.h"
#include "db/pg_store.h"
#include "db/sqlite_store.h"

namespace db {
namespace {

// "provtidy": distinct from `migrate`'s transaction-scoped key (pg_schema.cc).
constexpr int64_t kPgTidyLockKey = 8102661234142831737;
constexpr const char* kPgTryLock = "SELECT pg_try_advisory_lock($1::bigint)";
// A bigint key shows in pg_locks as classid (high 32 bits), objid (low 32 bits), objsubid 1.
constexpr const char* kPgHeld =
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted "
    "AND pid = pg_backend_pid() AND objsubid = 1 "
    "AND (classid::bigint << 32 | objid::bigint) = $1::bigint)";
constexpr const char* kBusyDetail = "another tidy is running on this store";

class FileTidyLock final : public Store::TidyLock {
 public:
  explicit FileTidyLock(base::UniqueFd fd) : fd_(std::move(fd)) {}
  Result<void> Held() override { return {}; }  // the open file holds it until it is closed

 private:
  base::UniqueFd fd_;
};

class PgTidyLock final : public Store::TidyLock {
 public:
  explicit PgTidyLock(std::unique_ptr<PgConn> conn) : conn_(std::move(conn)) {}
  Result<void> Held() override {
    auto rows = conn_->Query(kPgHeld, PgParams().Int(kPgTidyLockKey));
    if (!rows) return std::unexpected(rows.error());
    if (!rows->empty() && rows->Row(0).Text(0) == "t") return {};
    return base::Fail(Code::kBusy, "the tidy lock was lost (its PostgreSQL session ended)");
  }

 private:
  std::unique_ptr<PgConn> conn_;  // closing it ends the session, which releases the lock
};

}  // namespace

Result<std::unique_ptr<Store::TidyLock>> SqliteStore::TryLockTidy() {
  const std::string lock_path = path_ + "-tidy.lock";
  base::UniqueFd fd(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) {
    return base::Fail(Code::kIo, "open " + lock_path + ": " + std::strerror(errno));
  }
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) return base::Fail(Code::kBusy, kBusyDetail);
    return base::Fail(Code::kIo, "flock " + lock_path + ": " + std::strerror(errno));
  }
  return std::make_unique<FileTidyLock>(std::move(fd));
}

Result<std::unique_ptr<Store::TidyLock>> PgStore::TryLockTidy() {
  auto conn = PgConn::Connect(conninfo_);
  if (!conn) return std::unexpected(conn.error());
  auto rows = (*conn)->Query(kPgTryLock, PgParams().Int(kPgTidyLockKey));
  if (!rows) return std::unexpected(rows.error());
  if (rows->empty() || rows->Row(0).Text(0) != "t") return base::Fail(Code::kBusy, kBusyDetail);
  return std::make_unique<PgTidyLock>(std::move(*conn));
}

}  // namespace db
