// sqlite_store.h — db::SqliteStore, the SQLite implementation of db::Store: one file, its schema
// and migrations (schema.cc), and its session for the SQL both engines share (sql_store.h).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "db/records.h"
#include "db/sql_store.h"
#include "db/store.h"

namespace db {

// The version of the SQLite schema this program writes (PRAGMA user_version).
inline constexpr int kSchemaVersion = 13;

class Connection;
class SqliteBatch;

// Every call takes the store's mutex (one connection, used by one thread at a time). A
// db::Writer (db/writer.h) attached to a SqliteStore writes through a second connection of its
// own, so reads on this one never wait for the writer's commits.
class SqliteStore final : public SqlStore {
 public:
  // Opens (creating if absent, mode 0600) the database, applies migrations up to kSchemaVersion,
  // and sets journal_mode=WAL, synchronous=FULL, busy_timeout=5000, cell_size_check=ON,
  // foreign_keys=ON. No whole-file check (its cost grows with the file): a damaged page is found
  // when a statement reads it (kCorrupt, the statement and its transaction rolled back), and
  // db::SqliteFileCheck (store_check.h) checks every page. kSchema if the file is newer than this
  // program. Opens a second connection with the same settings for a db::Writer.
  // With Upgrade::kRefuse an existing file at an older version is refused too (kSchema, naming
  // `provisiond migrate`): serve and the admin commands; init and migrate upgrade in place.
  enum class Upgrade { kInPlace, kRefuse };
  static Result<std::unique_ptr<SqliteStore>> Open(const std::string& path,
                                                   Upgrade upgrade = Upgrade::kInPlace);
  ~SqliteStore() override;

  // Also holds the store's mutex for the whole scan, in one read transaction.
  Result<AuditReport> VerifyAuditChain() override;

  // A lock file beside the database (tidy_lock.cc).
  Result<std::unique_ptr<TidyLock>> TryLockTidy() override;

  // What SQLite reports for the settings durability depends on (so tests can assert them).
  struct Settings {
    std::string journal_mode;  // "wal"
    int synchronous = -1;      // 2 = FULL
    int foreign_keys = -1;     // 1
    int busy_timeout_ms = -1;
    int user_version = -1;
    int writer_temp_store = -1;  // the Writer's connection: 2 = MEMORY (statement journals)
  };
  Result<Settings> EffectiveSettings();

 private:
  Result<void> WithSession(const std::function<Result<void>(SqlSession&)>& body) override;
  // Foreign keys off for tidy's deletions (db/schema_tidy.cc says why).
  Result<void> WithTidySession(const std::function<Result<void>(SqlSession&)>& body) override;
  friend class SqliteBatch;  // db::Writer's transactions (sqlite_batch.cc): batch_mu_, batch_db_
  SqliteStore(std::string path, std::unique_ptr<Connection> db,
              std::unique_ptr<Connection> batch_db);
  const std::string path_;
  std::mutex mu_;  // held for every use of db_
  std::unique_ptr<Connection> db_;
  // The Writer's connection: a Writer's thread holds batch_mu_ for each of its transactions.
  std::mutex batch_mu_;
  std::unique_ptr<Connection> batch_db_;
};

}  // namespace db
