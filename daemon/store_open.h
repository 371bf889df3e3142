// store_open.h — the one place that turns --store and --store-password-file into an open store:
// the default (the state directory's SQLite file), the engine, the password, migrate, and for
// serve the per-worker readers and the group-commit writer.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "base/error.h"
#include "daemon/config.h"
#include "db/pg_store.h"
#include "db/sqlite_store.h"
#include "db/store.h"
#include "db/store_url.h"
#include "db/writer.h"

namespace provisiond {

// Where the store is, validated. The password read from --store-password-file stays in memory
// and goes to libpq only (as its password keyword): never in argv, a log line or an error.
class StoreLocation {
 public:
  // kInvalidArgument, one line naming the option ("--store: ...", "--store-password-file:
  // ..."), for a bad URL, a password inside it, a password file that is unreadable, empty, more
  // than one line, readable by others or not owned by this user, a password file with a SQLite
  // store, or no URL and no state directory.
  static base::Result<StoreLocation> Resolve(const StoreOptions& options,
                                             const std::string& state_dir);

  bool postgres() const { return url_.engine == db::StoreUrl::Engine::kPostgres; }
  // The SQLite file ("" for PostgreSQL).
  const std::string& sqlite_path() const { return url_.sqlite_path; }
  // "sqlite:PATH" or "postgresql host=... dbname=..." (store_url.h): safe to log.
  const std::string& label() const { return url_.label; }

  // Opens the store and checks its schema: kSchema, one line naming both versions, for a database
  // older (run `provisiond migrate`) or newer than this program, on either engine (a new SQLite
  // file is created at the current version, as init does).
  db::Result<std::unique_ptr<db::Store>> Open() const;
  // `provisiond migrate`: creates or upgrades the schema; returns the version it is at after.
  db::Result<int> Migrate() const;
  // The CA generations' states (db/ca_generation_states.h), read only: the SQLite file on a
  // read-only connection, or one PostgreSQL session. For check-config, which must not open the
  // store for serve. Errors as those functions return them.
  db::Result<std::map<int64_t, std::string>> ReadCaGenerationStates() const;

 private:
  friend class ServeStore;
  db::StoreUrl url_;
  std::string conninfo_;  // url_.conninfo plus the password, if a file gave one
};

// The store `serve` runs on: the store itself (start-up reads), one reader per worker, and the
// writer all issuance writes go through.
class ServeStore {
 public:
  static db::Result<std::unique_ptr<ServeStore>> Open(const StoreLocation& location);

  db::Store& store() { return sqlite_ ? static_cast<db::Store&>(*sqlite_) : *pg_; }
  // A connection of its own for a worker's handshake-time reads.
  db::Result<std::unique_ptr<db::Store>> OpenReader() const;
  // The group-commit writer of this engine (db/writer.h). The ServeStore must outlive it.
  db::Result<std::unique_ptr<db::Writer>> StartWriter(size_t max_queue, size_t max_batch,
                                                      std::chrono::microseconds commit_delay);

 private:
  explicit ServeStore(StoreLocation location) : location_(std::move(location)) {}
  StoreLocation location_;
  std::unique_ptr<db::SqliteStore> sqlite_;
  std::unique_ptr<db::PgStore> pg_;
};

// Serve's start: one warning line (pending_intents) with the count of pending intents, if any.
db::Result<void> ReportPendingIntents(db::Store& store);

}  // namespace provisiond
