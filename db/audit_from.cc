// audit_from.cc — VerifyAuditChainFrom (audit_from.h): the walk of db/audit.cc over the store's
// own connection, one statement with the checkpoint's id bound.
#include "db/audit_from.h"

#include "db/audit.h"
#include "db/sql_session.h"
#include "db/sql_store.h"

namespace db {
namespace {

// SqlStore::WithSession is the one way onto a store's connection (its lock held, SQLite's or
// PostgreSQL's session); it is protected so that only store code uses it, and this is store
// code outside the class: a derived type names the member, which any SqlStore then runs.
struct SessionAccess : SqlStore {
  using Body = std::function<Result<void>(SqlSession&)>;
  static Result<void> Run(SqlStore& store, const Body& body) {
    auto with_session = &SessionAccess::WithSession;
    return (store.*with_session)(body);
  }
};

}  // namespace

Result<AuditReport> VerifyAuditChainFrom(Store& store, int64_t id, std::string_view row_hash) {
  auto* sql = dynamic_cast<SqlStore*>(&store);
  if (sql == nullptr) return Fail(Code::kInternal, "VerifyAuditChainFrom: not a SQL store");
  std::optional<Result<AuditReport>> out;
  auto done = SessionAccess::Run(*sql, [&](SqlSession& session) -> Result<void> {
    const IdRowQuery query = [&session](const char* text, int64_t value,
                                        const RowVisitor& visit) {
      return session.Query(text, SqlParams().Int(value), visit);
    };
    out = VerifyEventChainFrom(query, id, row_hash);
    return {};
  });
  if (!done) return std::unexpected(done.error());
  return std::move(*out);
}

}  // namespace db
