// pg_store.cc — PgStore: connecting, the schema check and migrate, the issuance writes as one-shot
// transactions, pending intents and the audit check. The methods both engines share (revoke,
// denylist, blocks, CRL, listing) are db::SqlStore's (sql_store.cc) over PgSession; the
// in-transaction writes are in pg_policy.cc, the schema in pg_schema.cc.
#include "db/pg_store.h"

#include <utility>

#include "db/audit.h"
#include "db/audit_state.h"
#include "db/pg_conn.h"
#include "db/pg_ops.h"
#include "db/pg_schema.h"

namespace db {
namespace {

constexpr const char* kSelectPending =
    PROVISIOND_INTENT_SELECT "WHERE status = 'pending' ORDER BY created_at, rowid";

}  // namespace

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
  auto db = PgConn::Connect(conninfo);
  if (!db) return std::unexpected(db.error());
  return PgMigrateTo(**db, kPgSchemaVersion);
}

Result<void> PgStore::WithSession(const std::function<Result<void>(SqlSession&)>& body) {
  std::lock_guard lock(mu_);
  PgSession session(*db_);
  return body(session);
}

Result<void> PgStore::RecordEvent(const EventRecord& event) {
  std::lock_guard lock(mu_);
  return InPgWriteTransaction(*db_, [&] { return PgRecordEventInTxn(*db_, event); });
}

Result<IssueOutcome> PgStore::Reserve(const Intent& intent, const IssuancePolicy& policy) {
  std::lock_guard lock(mu_);
  std::optional<IssueOutcome> outcome;
  auto done = InPgWriteTransaction(*db_, [&]() -> Result<void> {
    auto decided = PgReserveInTxn(*db_, intent, policy);
    if (!decided) return std::unexpected(decided.error());
    outcome = std::move(*decided);
    return {};
  });
  if (!done) return std::unexpected(done.error());
  return std::move(*outcome);
}

Result<void> PgStore::Complete(const CertificateRecord& cert, const EventRecord& issued_event) {
  std::lock_guard lock(mu_);
  return InPgWriteTransaction(*db_, [&] { return PgCompleteInTxn(*db_, cert, issued_event); });
}

Result<std::vector<Intent>> PgStore::PendingIntents() {
  std::lock_guard lock(mu_);
  auto rows = db_->Query(kSelectPending);
  if (!rows) return std::unexpected(rows.error());
  std::vector<Intent> intents;
  for (int i = 0; i < rows->size(); ++i) intents.push_back(ReadIntent(rows->Row(i)));
  return intents;
}

Result<AuditReport> PgStore::VerifyAuditChain() {
  std::lock_guard lock(mu_);
  if (auto begun = db_->Run("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); !begun) {
    return std::unexpected(begun.error());
  }
  const RowQuery query = db_->Rows();
  auto report = VerifyEventChain(query);
  if (report) {
    if (auto checked = VerifyStateAgainstChain(query, *report); !checked) {
      report = std::unexpected(checked.error());
    }
  }
  db_->RollbackIfOpen();
  return report;
}

}  // namespace db
