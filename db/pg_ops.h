// pg_ops.h — PostgreSQL's SqlSession, through which the shared store code (sql_store.h) runs on a
// PgConn, and the audit chain's append it uses.
// Private to db/.
#pragma once

#include <string_view>

#include "db/pg_conn.h"
#include "db/records.h"
#include "db/sql_session.h"

namespace db {

// PostgreSQL's SqlSession (sql_session.h) over one PgConn: BEGIN and the audit_head lock for a
// write, PgAppendEvent for the chain.
class PgSession final : public SqlSession {
 public:
  explicit PgSession(PgConn& db) : db_(db) {}
  Result<void> Query(const char* sql, const SqlParams& params, const RowVisitor& visit) override;
  Result<void> InWrite(const std::function<Result<void>()>& body) override;
  Result<void> AppendEvent(const EventRecord& event, std::string_view serial_hex) override;

 private:
  PgConn& db_;
};

// Appends `event` to the hash chain: id and prev_hash from audit_head (locked by the transaction),
// the row, and audit_head advanced to it. The hash is db/audit.h's, so VerifyAuditChain means the
// same on both engines. `serial_hex` "" stores NULL.
Result<void> PgAppendEvent(PgConn& db, const EventRecord& event, std::string_view serial_hex);

}  // namespace db
