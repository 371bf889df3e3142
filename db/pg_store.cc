// pg_store.cc — PgStore: connecting, the schema check and migrate, the issuance writes as one-shot
// transactions, and the reads of certificates, intents and events. Lifecycle operations (revoke,
// denylist, blocks, CRL, listing) are in pg_lifecycle.cc, the in-transaction writes in
// pg_policy.cc, the schema in pg_schema.cc.
#include "db/pg_store.h"

#include <utility>

#include "db/audit.h"
#include "db/audit_state.h"
#include "db/pg_conn.h"
#include "db/pg_ops.h"
#include "db/pg_schema.h"

namespace db {
namespace {

constexpr const char* kSelectBySerial = PROVISIOND_PG_CERT_SELECT "WHERE serial = $1";
constexpr const char* kSelectByDevice =
    PROVISIOND_PG_CERT_SELECT "WHERE device_id = $1 ORDER BY id";
constexpr const char* kSelectRecentEvents =
    "SELECT time, peer, presented_fingerprint, presented_subject, device_id, endpoint, outcome, "
    "http_status, reason, serial FROM enrollment_events ORDER BY id DESC LIMIT $1";
constexpr const char* kCountCertificates = "SELECT count(*) FROM certificates";
constexpr const char* kSelectPending =
    "SELECT serial, device_id, kind, public_key_sha256, auth_cert_fingerprint, "
    "auth_cert_issuer, auth_cert_serial, tbs, not_after, peer, created_at, status, revoked_at, "
    "revocation_reason, profile FROM issuance_intents WHERE status = 'pending' "
    "ORDER BY created_at, rowid";

Intent ReadPendingIntent(const PgRow& row) {
  Intent intent{.serial_hex = row.Text(0),
                .device_id = row.Text(1),
                .kind = row.Text(2),
                .public_key_sha256 = row.Text(3),
                .auth_cert_fingerprint = row.Text(4),
                .auth_cert_issuer = row.Text(5),
                .auth_cert_serial = row.Text(6),
                .tbs = row.Blob(7),
                .not_after = row.Text(8),
                .peer = row.Text(9),
                .created_at = row.Text(10),
                .status = row.Text(11),
                .revoked_at = {},
                .revocation_reason = {},
                .profile = row.Text(14)};
  if (!row.IsNull(12)) intent.revoked_at = row.Text(12);
  if (!row.IsNull(13)) intent.revocation_reason = static_cast<int>(row.Int(13));
  return intent;
}

EventRecord ReadEvent(const PgRow& row) {
  return EventRecord{.time = row.Text(0),
                     .peer = row.Text(1),
                     .presented_fingerprint = row.Text(2),
                     .presented_subject = row.Text(3),
                     .device_id = row.Text(4),
                     .endpoint = row.Text(5),
                     .outcome = row.Text(6),
                     .http_status = static_cast<int>(row.Int(7)),
                     .reason = row.Text(8),
                     .serial_hex = row.Text(9)};  // NULL reads as ""
}

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

Result<void> PgStore::Migrate(const std::string& conninfo) {
  // No statement_timeout: a step may wait for another replica's migrate, or rewrite a big table.
  auto db = PgConn::Connect(conninfo, /*statement_timeout_ms=*/0);
  if (!db) return std::unexpected(db.error());
  return PgMigrateTo(**db, kPgSchemaVersion);
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
  for (int i = 0; i < rows->size(); ++i) intents.push_back(ReadPendingIntent(rows->Row(i)));
  return intents;
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
  auto report = VerifyEventChain(query);
  if (report) {
    if (auto checked = VerifyStateAgainstChain(query, *report); !checked) {
      report = std::unexpected(checked.error());
    }
  }
  db_->RollbackIfOpen();
  return report;
}

Result<std::optional<CertificateRecord>> PgStore::FindBySerial(std::string_view serial_hex) {
  std::lock_guard lock(mu_);
  auto rows = db_->Query(kSelectBySerial, PgParams().Text(serial_hex));
  if (!rows) return std::unexpected(rows.error());
  if (rows->empty()) return std::optional<CertificateRecord>();
  return PgReadCertificate(rows->Row(0));
}

Result<std::vector<CertificateRecord>> PgStore::FindByDevice(std::string_view device_id) {
  std::lock_guard lock(mu_);
  auto rows = db_->Query(kSelectByDevice, PgParams().Text(device_id));
  if (!rows) return std::unexpected(rows.error());
  return PgReadCertificates(*rows);
}

Result<std::vector<EventRecord>> PgStore::RecentEvents(int limit) {
  std::lock_guard lock(mu_);
  std::vector<EventRecord> events;
  if (limit <= 0) return events;
  auto rows = db_->Query(kSelectRecentEvents, PgParams().Int(limit));
  if (!rows) return std::unexpected(rows.error());
  for (int i = 0; i < rows->size(); ++i) events.push_back(ReadEvent(rows->Row(i)));
  return events;
}

Result<int64_t> PgStore::CountCertificates() {
  std::lock_guard lock(mu_);
  auto rows = db_->Query(kCountCertificates);
  if (!rows) return std::unexpected(rows.error());
  return rows->empty() ? 0 : rows->Row(0).Int(0);
}

}  // namespace db
