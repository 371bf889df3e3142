// pg_store.h — db::PgStore, the PostgreSQL implementation of db::Store (libpq): one shared
// database for many provisiond replicas, every invariant enforced by the database itself.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "db/records.h"
#include "db/sql_store.h"
#include "db/store.h"

namespace db {

class PgConn;
class PgWriter;

// How each invariant holds across connections (and so across replicas) is written down in
// db/pg_schema.cc (audit_head) and docs/architecture.md. The mutex below only serializes this
// object's use of its one libpq connection (libpq connections are not thread-safe); no decision
// depends on it.
class PgStore final : public SqlStore {
 public:
  // Connects (libpq conninfo or URI) and checks the schema: kSchema, with one line naming both
  // versions, unless the database is at kPgSchemaVersion (an empty database: run Migrate). kIo if
  // the server cannot be reached. Never logs or returns the conninfo.
  static Result<std::unique_ptr<PgStore>> Open(const std::string& conninfo);
  // `provisiond migrate`: creates or upgrades the schema to kPgSchemaVersion. Idempotent; safe to
  // run from several replicas at once. kSchema if the database is newer than this program.
  static Result<void> Migrate(const std::string& conninfo);
  // The schema version Open accepts and Migrate makes (kPgSchemaVersion, db/pg_schema.h).
  static int SchemaVersion();
  ~PgStore() override;

  // One REPEATABLE READ, READ ONLY transaction: the chain and the state tables in one snapshot.
  Result<AuditReport> VerifyAuditChain() override;
  // A session-level advisory lock on a connection of the lock's own (tidy_lock.cc).
  Result<std::unique_ptr<TidyLock>> TryLockTidy() override;

 private:
  Result<void> WithSession(const std::function<Result<void>(SqlSession&)>& body) override;
  friend class PgWriter;  // opens its own connection with conninfo_
  PgStore(std::string conninfo, std::unique_ptr<PgConn> db);
  const std::string conninfo_;
  std::mutex mu_;  // held for every use of db_
  std::unique_ptr<PgConn> db_;
};

}  // namespace db
