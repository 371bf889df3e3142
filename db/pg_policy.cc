// pg_policy.cc — PgStore's issuance writes: the chain append, Reserve's checks in store.h's order
// and the intent insert, and Complete. Each runs inside a transaction that holds the audit_head row
// lock from its first statement (InPgWriteTransaction, PgWriter), so under READ COMMITTED every
// check reads what the previous lock holder committed: the decision and the insert cannot both
// win for two connections.
#include <optional>
#include <string>

#include "db/audit.h"
#include "db/audit_state.h"
#include "db/operations.h"
#include "db/pg_ops.h"
#include "db/sql_store.h"
#include "db/rows.h"

namespace db {
namespace {

constexpr const char* kSelectHead = "SELECT last_id, last_hash FROM audit_head WHERE id = 1";
constexpr const char* kInsertEvent =
    "INSERT INTO enrollment_events (id, time, peer, presented_fingerprint, presented_subject, "
    "device_id, endpoint, outcome, http_status, reason, serial, prev_hash, row_hash) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";
constexpr const char* kAdvanceHead =
    "UPDATE audit_head SET last_id = $1, last_hash = $2 WHERE id = 1";

constexpr const char* kKeyInOtherDevice =
    "SELECT EXISTS (SELECT 1 FROM certificates WHERE public_key_sha256 = $1 AND device_id <> $2) "
    "OR EXISTS (SELECT 1 FROM issuance_intents WHERE public_key_sha256 = $1 AND device_id <> $2 "
    "AND status = 'pending')";
constexpr const char* kSameKeyEnrollment = PROVISIOND_CERT_SELECT
    "WHERE auth_cert_fingerprint = $1 AND kind = 'enroll' AND public_key_sha256 = $2 "
    "AND revoked_at IS NULL ORDER BY id DESC LIMIT 1";
constexpr const char* kPendingSameKey = PROVISIOND_INTENT_SELECT
    "WHERE auth_cert_fingerprint = $1 AND public_key_sha256 = $2 AND kind = 'enroll' "
    "AND status = 'pending' AND revoked_at IS NULL ORDER BY rowid DESC LIMIT 1";
constexpr const char* kCountEnrollments =
    "SELECT (SELECT count(*) FROM certificates WHERE auth_cert_fingerprint = $1 "
    "AND kind = 'enroll') + (SELECT count(*) FROM issuance_intents "
    "WHERE auth_cert_fingerprint = $1 AND kind = 'enroll' AND status = 'pending')";
constexpr const char* kCountDeviceEnrollments =
    "SELECT (SELECT count(*) FROM certificates WHERE device_id = $1 AND kind = 'enroll') + "
    "(SELECT count(*) FROM issuance_intents WHERE device_id = $1 AND kind = 'enroll' "
    "AND status = 'pending')";
constexpr const char* kSerialTable =
    "SELECT CASE WHEN EXISTS (SELECT 1 FROM certificates WHERE serial = $1) THEN 'certificates' "
    "WHEN EXISTS (SELECT 1 FROM issuance_intents WHERE serial = $1) THEN 'intents' END";
constexpr const char* kInsertIntent =
    "INSERT INTO issuance_intents (serial, device_id, kind, public_key_sha256, "
    "auth_cert_fingerprint, auth_cert_issuer, auth_cert_serial, tbs, not_after, peer, created_at, "
    "profile, status) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'pending')";
constexpr const char* kSelectIntent = PROVISIOND_INTENT_SELECT "WHERE serial = $1";
constexpr const char* kInsertCertificate =
    "INSERT INTO certificates (serial, device_id, subject, san, not_before, not_after, der, "
    "fingerprint_sha256, public_key_sha256, auth_cert_issuer, auth_cert_serial, "
    "auth_cert_fingerprint, kind, peer, issued_at, revoked_at, revocation_reason, profile) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)";
constexpr const char* kMarkIssued =
    "UPDATE issuance_intents SET status = 'issued' WHERE serial = $1 AND status = 'pending'";

Result<bool> Exists(PgConn& db, const char* sql, const PgParams& params) {
  auto rows = db.Query(sql, params);
  if (!rows) return std::unexpected(rows.error());
  return !rows->empty() && rows->Row(0).Text(0) == "t";
}

Result<int64_t> Count(PgConn& db, const char* sql, std::string_view key) {
  auto rows = db.Query(sql, PgParams().Text(key));
  if (!rows) return std::unexpected(rows.error());
  return rows->empty() ? 0 : rows->Row(0).Int(0);
}

// Checks 2-4 of Store::Reserve (kind "enroll" only); nullopt when the enrollment may proceed.
Result<std::optional<IssueOutcome>> EnrollRefusal(PgConn& db, const Intent& intent,
                                                  const IssuancePolicy& policy) {
  auto same_key = PgParams().Text(intent.auth_cert_fingerprint).Text(intent.public_key_sha256);
  auto existing = db.Query(kSameKeyEnrollment, same_key);
  if (!existing) return std::unexpected(existing.error());
  if (!existing->empty()) {
    return IssueOutcome{Decision::kAlreadyIssued, ReadCertificate(existing->Row(0)), {}};
  }
  auto pending = db.Query(kPendingSameKey, same_key);
  if (!pending) return std::unexpected(pending.error());
  if (!pending->empty()) {
    return IssueOutcome{Decision::kResume, std::nullopt, ReadIntent(pending->Row(0))};
  }
  auto count = Count(db, kCountEnrollments, intent.auth_cert_fingerprint);
  if (!count) return std::unexpected(count.error());
  if (*count >= policy.max_per_bootstrap) {
    return IssueOutcome{Decision::kBootstrapExhausted, std::nullopt, {}};
  }
  auto per_device = Count(db, kCountDeviceEnrollments, intent.device_id);
  if (!per_device) return std::unexpected(per_device.error());
  if (*per_device >= policy.max_per_bootstrap) {
    return IssueOutcome{Decision::kDeviceEnrolled, std::nullopt, {}};
  }
  return std::optional<IssueOutcome>();
}

Result<void> InsertIntent(PgConn& db, const Intent& intent) {
  auto params = PgParams()
                    .Text(intent.serial_hex)
                    .Text(intent.device_id)
                    .Text(intent.kind)
                    .Text(intent.public_key_sha256)
                    .Text(intent.auth_cert_fingerprint)
                    .Text(intent.auth_cert_issuer)
                    .Text(intent.auth_cert_serial)
                    .Bytes(intent.tbs)  // empty binds NULL: refused by NOT NULL
                    .Text(intent.not_after)
                    .Text(intent.peer)
                    .Text(intent.created_at)
                    .Text(intent.profile);
  if (auto r = db.Run(kInsertIntent, params); !r) return std::unexpected(r.error());
  return {};
}

Result<void> InsertCertificate(PgConn& db, const CertificateRecord& cert) {
  std::optional<int64_t> reason;
  if (cert.revocation_reason) reason = *cert.revocation_reason;
  auto params = PgParams()
                    .Text(cert.serial_hex)
                    .Text(cert.device_id)
                    .Text(cert.subject)
                    .Text(cert.san)
                    .Text(cert.not_before)
                    .Text(cert.not_after)
                    .Bytes(cert.der)
                    .Text(cert.fingerprint_sha256)
                    .Text(cert.public_key_sha256)
                    .Text(cert.auth_cert_issuer)
                    .Text(cert.auth_cert_serial)
                    .Text(cert.auth_cert_fingerprint)
                    .Text(cert.kind)
                    .Text(cert.peer)
                    .Text(cert.issued_at)
                    .OptionalText(cert.revoked_at)
                    .OptionalInt(reason)
                    .Text(cert.profile);
  if (auto r = db.Run(kInsertCertificate, params); !r) return std::unexpected(r.error());
  return {};
}

}  // namespace

std::vector<CertificateRecord> PgReadCertificates(const PgRows& rows) {
  std::vector<CertificateRecord> certs;
  certs.reserve(rows.size());
  for (int i = 0; i < rows.size(); ++i) certs.push_back(ReadCertificate(rows.Row(i)));
  return certs;
}

Result<void> PgAppendEvent(PgConn& db, const EventRecord& event, std::string_view serial_hex) {
  auto head = db.Query(kSelectHead);
  if (!head) return std::unexpected(head.error());
  if (head->empty()) return base::Fail(Code::kCorrupt, "audit_head: the row with id 1 is missing");
  const int64_t id = head->Row(0).Int(0) + 1;
  const std::string prev_hash = head->Row(0).Text(1);
  std::optional<std::string> serial;
  if (!serial_hex.empty()) serial = std::string(serial_hex);
  const std::string row_hash = EventRowHash(id, event, serial, prev_hash);
  if (row_hash.empty()) return base::Fail(Code::kInternal, "mbedtls_sha256 failed for event hash");
  auto params = PgParams()
                    .Int(id)
                    .Text(event.time)
                    .Text(event.peer)
                    .Text(event.presented_fingerprint)
                    .Text(event.presented_subject)
                    .Text(event.device_id)
                    .Text(event.endpoint)
                    .Text(event.outcome)
                    .Int(event.http_status)
                    .Text(event.reason)
                    .OptionalText(serial)
                    .Text(prev_hash)
                    .Text(row_hash);
  if (auto r = db.Run(kInsertEvent, params); !r) return std::unexpected(r.error());
  if (auto r = db.Run(kAdvanceHead, PgParams().Int(id).Text(row_hash)); !r) {
    return std::unexpected(r.error());
  }
  return {};
}

Result<IssueOutcome> PgReserveInTxn(PgConn& db, const Intent& intent,
                                    const IssuancePolicy& policy) {
  PgSession session(db);
  auto refused = StatusRefusal(session, intent);
  if (!refused) return std::unexpected(refused.error());
  if (*refused) return IssueOutcome{**refused, std::nullopt, std::nullopt};
  auto reused = Exists(db, kKeyInOtherDevice,
                       PgParams().Text(intent.public_key_sha256).Text(intent.device_id));
  if (!reused) return std::unexpected(reused.error());
  if (*reused) return IssueOutcome{Decision::kKeyReuse, std::nullopt, std::nullopt};
  if (intent.kind == "enroll") {
    auto enroll = EnrollRefusal(db, intent, policy);
    if (!enroll) return std::unexpected(enroll.error());
    if (*enroll) return std::move(**enroll);
  }
  auto taken = db.Query(kSerialTable, PgParams().Text(intent.serial_hex));
  if (!taken) return std::unexpected(taken.error());
  if (!taken->empty() && !taken->Row(0).IsNull(0)) {
    return base::Fail(Code::kDuplicateSerial, "Reserve: serial " + intent.serial_hex +
                                                  " is already in " + taken->Row(0).Text(0));
  }
  if (auto inserted = InsertIntent(db, intent); !inserted) return std::unexpected(inserted.error());
  if (auto recorded = PgAppendEvent(db, IntentStateEvent(intent), ""); !recorded) {
    return std::unexpected(recorded.error());
  }
  return IssueOutcome{Decision::kReserved, std::nullopt, std::nullopt};
}

Result<void> PgCompleteInTxn(PgConn& db, const CertificateRecord& cert, const EventRecord& event) {
  if (auto checked = CheckIssuedEventSerial(cert, event, "Complete"); !checked) return checked;
  auto found = db.Query(kSelectIntent, PgParams().Text(cert.serial_hex));
  if (!found) return std::unexpected(found.error());
  if (found->empty()) {
    return base::Fail(Code::kConstraint,
                      "Complete: no issuance intent with serial " + cert.serial_hex);
  }
  const Intent intent = ReadIntent(found->Row(0));
  if (intent.status != "pending") {
    return base::Fail(Code::kConstraint, "Complete: intent " + cert.serial_hex + " is already " +
                                             intent.status + ", not pending");
  }
  if (intent.revoked_at) {
    return base::Fail(Code::kConstraint, "Complete: intent " + cert.serial_hex +
                                             " was revoked at " + *intent.revoked_at);
  }
  if (auto matches = CheckMatchesIntent(cert, intent); !matches) return matches;
  if (auto inserted = InsertCertificate(db, cert); !inserted) return inserted;
  if (auto recorded = PgAppendEvent(db, event, cert.serial_hex); !recorded) return recorded;
  if (auto marked = db.Run(kMarkIssued, PgParams().Text(cert.serial_hex)); !marked) {
    return std::unexpected(marked.error());
  }
  return {};
}

Result<void> PgRecordEventInTxn(PgConn& db, const EventRecord& event) {
  return PgAppendEvent(db, event, event.serial_hex);
}

}  // namespace db
