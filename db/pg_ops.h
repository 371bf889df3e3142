// pg_ops.h — PgStore's write operations, each run inside a write transaction its caller owns
// (InPgWriteTransaction: PgStore's one-shot methods; a Writer's batch runs many under one), and the
// certificate row helpers they share with the reads.
// Private to db/.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "db/pg_conn.h"
#include "db/records.h"
#include "db/row_read.h"
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

// Every row of a PROVISIOND_CERT_SELECT result (row_read.h).
std::vector<CertificateRecord> PgReadCertificates(const PgRows& rows);

// Appends `event` to the hash chain: id and prev_hash from audit_head (locked by the transaction),
// the row, and audit_head advanced to it. The hash is db/audit.h's, so VerifyAuditChain means the
// same on both engines. `serial_hex` "" stores NULL.
Result<void> PgAppendEvent(PgConn& db, const EventRecord& event, std::string_view serial_hex);

// Store::Reserve's checks in order and the insert (store.h). Writes only for kReserved.
Result<IssueOutcome> PgReserveInTxn(PgConn& db, const Intent& intent, const IssuancePolicy& policy);
// Store::Complete's checks, the certificate + event insert and the intent's move to 'issued'.
Result<void> PgCompleteInTxn(PgConn& db, const CertificateRecord& cert, const EventRecord& event);
// Store::RecordEvent's body.
Result<void> PgRecordEventInTxn(PgConn& db, const EventRecord& event);

}  // namespace db
