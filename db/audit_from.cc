// audit_from.cc — SqlStore::VerifyAuditChainFrom (store.h): the walk of db/audit.cc from an audit
// checkpoint's row on, over the store's own connection: the chain's base, then one statement with
// the id below the checkpoint's row bound.
#include <optional>

#include "db/audit.h"
#include "db/audit_tidy.h"
#include "db/sql_session.h"
#include "db/sql_store.h"

namespace db {

Result<AuditReport> SqlStore::VerifyAuditChainFrom(int64_t id, std::string_view row_hash) {
  return Use<AuditReport>([&](SqlSession& session) -> Result<AuditReport> {
    const IdRowQuery query = [&session](const char* text, int64_t value,
                                        const RowVisitor& visit) {
      return session.Query(text, SqlParams().Int(value), visit);
    };
    // The checkpoint's row links to the row below it, or, once tidy removed that, to the base.
    const RowQuery rows = [&session](const char* text, const RowVisitor& visit) {
      return session.Query(text, {}, visit);
    };
    return VerifyEventChainFrom(query, id, row_hash, [&rows] { return ReadChainBase(rows); });
  });
}

}  // namespace db
