// pg_store.cc — PgStore: connecting, the schema check and migrate, its session, and the audit
// check. Every other method is db::SqlStore's (sql_store*.cc, sql_issuance.cc) over PgSession;
// the audit chain's append is in pg_chain.cc, the schema in pg_schema.cc.
#include "db/pg_store.h"

#include <utility>

#include "db/audit.h"
#include "db/audit_state.h"
#include "db/audit_tidy.h"
#include "db/pg_conn.h"
#include "db/pg_ops.h"
#include "db/pg_schema.h"

namespace db {

PgStore::PgStore(std::string conninfo, std::unique_ptr<PgConn> db)
    : conninfo_(std::move(conninfo)), db_(std::move(db)) {}

PgStore::~PgStore() = default;

Result<std::unique_ptr<PgStore>> PgStore::Open(const std::string& conninfo) {
  auto db = PgConn::Connect(conninfo);
  if (!db) return std::unexpected(db.error());
  if (auto checked = PgCheckSchema(**db); !checked) return std::unexpected(checked.error());
  return std::unique_ptr<PgStore>(new PgStore(conninfo, std::move(*db)));
}

int PgStore::SchemaVersion() { return kPgSchemaVersion; }

Result<void> PgStore::Migrate(const std::string& conninfo) {
  // No statement_timeout: a step may wait for another replica's migrate, or rewrite a big table.
  auto db = PgConn::Connect(conninfo, /*statement_timeout_ms=*/0);
  if (!db) return std::unexpected(db.error());
  return PgMigrateTo(**db, kPgSchemaVersion);
}

Result<void> PgStore::WithSession(const std::function<Result<void>(SqlSession&)>& body) {
  std::lock_guard lock(mu_);
  PgSession session(*db_);
  return body(session);
}

Result<AuditReport> PgStore::VerifyAuditChain() {
  std::lock_guard lock(mu_);
  if (auto begun = db_->Run("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); !begun) {
    return std::unexpected(begun.error());
  }
  // The walk reads every event: on a large store it may take longer than a statement may.
  if (auto unbounded = db_->LiftStatementTimeout(); !unbounded) {
    db_->RollbackIfOpen();
    return std::unexpected(unbounded.error());
  }
  const RowQuery query = db_->Rows();
  auto base = ReadChainBase(query);  // a truncated chain's start (db/audit_tidy.h)
  auto report = base ? VerifyEventChain(query, *base) : std::unexpected(base.error());
  if (report) {
    if (auto checked = VerifyStateAgainstChain(query, *report); !checked) {
      report = std::unexpected(checked.error());
    }
  }
  db_->RollbackIfOpen();
  return report;
}

}  // namespace db
