// policy.cc — the issuance policy, in one place: Store::Reserve (phase one of the only write path,
// also run by db::Writer) decides and inserts the intent in one BEGIN IMMEDIATE transaction (the
// write lock is held from the first check to the commit), starting with the status checks
// (block, authenticating certificate revoked or denylisted: blocks.cc).
#include <string>

#include "db/audit.h"
#include "db/audit_state.h"
#include "db/operations.h"
#include "db/sql_store.h"
#include "db/sqlite_session.h"
#include "db/rows.h"
#include "db/sqlite_store.h"
#include "db/statement.h"

namespace db {
namespace {

// Served by certificates_public_key_sha256 / certificates_auth_cert_fingerprint (migration 1) and
// issuance_intents_public_key_sha256 / issuance_intents_auth_cert_fingerprint (migration 3).
constexpr const char* kKeyInOtherDevice =
    "SELECT EXISTS (SELECT 1 FROM certificates WHERE public_key_sha256 = ?1 AND device_id <> ?2) "
    "OR EXISTS (SELECT 1 FROM issuance_intents WHERE public_key_sha256 = ?1 AND device_id <> ?2 "
    "AND status = 'pending')";
constexpr const char* kSameKeyEnrollment = PROVISIOND_CERT_SELECT
    "WHERE auth_cert_fingerprint = ?1 AND kind = 'enroll' AND public_key_sha256 = ?2 "
    "AND revoked_at IS NULL ORDER BY id DESC LIMIT 1";
// A pending intent will become a certificate, so it spends quota as one does (revoked or not).
constexpr const char* kCountEnrollments =
    "SELECT (SELECT count(*) FROM certificates WHERE auth_cert_fingerprint = ?1 "
    "AND kind = 'enroll') + (SELECT count(*) FROM issuance_intents "
    "WHERE auth_cert_fingerprint = ?1 AND kind = 'enroll' AND status = 'pending')";
// The same per device id (served by certificates_device_id / issuance_intents_device_id): a device
// id enrolls as often as one bootstrap certificate may, whichever bootstrap certificates it uses.
constexpr const char* kCountDeviceEnrollments =
    "SELECT (SELECT count(*) FROM certificates WHERE device_id = ?1 AND kind = 'enroll') + "
    "(SELECT count(*) FROM issuance_intents WHERE device_id = ?1 AND kind = 'enroll' "
    "AND status = 'pending')";
constexpr const char* kCertificateSerialExists =
    "SELECT EXISTS (SELECT 1 FROM certificates WHERE serial = ?1)";

Result<bool> KeyUsedByOtherDevice(Connection& db, std::string_view public_key_sha256,
                                  std::string_view device_id) {
  auto stmt = db.Prepare(kKeyInOtherDevice);
  if (!stmt) return std::unexpected(stmt.error());
  stmt->BindText(1, public_key_sha256);
  stmt->BindText(2, device_id);
  auto row = stmt->Step();
  if (!row) return std::unexpected(row.error());
  return *row && stmt->Int(0) != 0;
}

Result<std::optional<CertificateRecord>> SameKeyEnrollment(Connection& db,
                                                           std::string_view auth_cert_fingerprint,
                                                           std::string_view public_key_sha256) {
  auto stmt = db.Prepare(kSameKeyEnrollment);
  if (!stmt) return std::unexpected(stmt.error());
  stmt->BindText(1, auth_cert_fingerprint);
  stmt->BindText(2, public_key_sha256);
  auto row = stmt->Step();
  if (!row) return std::unexpected(row.error());
  if (!*row) return std::optional<CertificateRecord>();
  return ReadCertificate(*stmt);
}

Result<int64_t> CountEnrollments(Connection& db, std::string_view auth_cert_fingerprint) {
  auto stmt = db.Prepare(kCountEnrollments);
  if (!stmt) return std::unexpected(stmt.error());
  stmt->BindText(1, auth_cert_fingerprint);
  auto row = stmt->Step();
  if (!row) return std::unexpected(row.error());
  return *row ? stmt->Int(0) : 0;
}

Result<int64_t> CountDeviceEnrollments(Connection& db, std::string_view device_id) {
  auto stmt = db.Prepare(kCountDeviceEnrollments);
  if (!stmt) return std::unexpected(stmt.error());
  stmt->BindText(1, device_id);
  auto row = stmt->Step();
  if (!row) return std::unexpected(row.error());
  return *row ? stmt->Int(0) : 0;
}

Result<bool> CertificateSerialExists(Connection& db, std::string_view serial_hex) {
  auto stmt = db.Prepare(kCertificateSerialExists);
  if (!stmt) return std::unexpected(stmt.error());
  stmt->BindText(1, serial_hex);
  auto row = stmt->Step();
  if (!row) return std::unexpected(row.error());
  return *row && stmt->Int(0) != 0;
}

Error SerialTaken(std::string_view caller, std::string_view serial_hex, std::string_view table) {
  return Error{Code::kDuplicateSerial, std::string(caller) + ": serial " + std::string(serial_hex) +
                                           " is already in " + std::string(table)};
}

// Check 4 of Reserve: the bootstrap certificate's quota, then the device id's, pending intents
// included. nullopt when both have room.
Result<std::optional<Decision>> QuotaSpent(Connection& db, std::string_view auth_cert_fingerprint,
                                           std::string_view device_id,
                                           const IssuancePolicy& policy) {
  auto count = CountEnrollments(db, auth_cert_fingerprint);
  if (!count) return std::unexpected(count.error());
  if (*count >= policy.max_per_bootstrap) return Decision::kBootstrapExhausted;
  auto per_device = CountDeviceEnrollments(db, device_id);
  if (!per_device) return std::unexpected(per_device.error());
  if (*per_device >= policy.max_per_bootstrap) return Decision::kDeviceEnrolled;
  return std::optional<Decision>();
}

}  // namespace

Result<IssueOutcome> ReserveInTxn(Connection& db, const Intent& intent,
                                  const IssuancePolicy& policy) {
  SqliteSession session(db);
  auto refused = StatusRefusal(session, intent);
  if (!refused) return std::unexpected(refused.error());
  if (*refused) return IssueOutcome{**refused, std::nullopt, std::nullopt};
  auto reused = KeyUsedByOtherDevice(db, intent.public_key_sha256, intent.device_id);
  if (!reused) return std::unexpected(reused.error());
  if (*reused) return IssueOutcome{Decision::kKeyReuse, std::nullopt, std::nullopt};
  if (intent.kind == "enroll") {
    auto existing = SameKeyEnrollment(db, intent.auth_cert_fingerprint, intent.public_key_sha256);
    if (!existing) return std::unexpected(existing.error());
    if (*existing) return IssueOutcome{Decision::kAlreadyIssued, std::move(*existing), {}};
    auto pending =
        PendingSameKeyEnrollIntent(db, intent.auth_cert_fingerprint, intent.public_key_sha256);
    if (!pending) return std::unexpected(pending.error());
    if (*pending) return IssueOutcome{Decision::kResume, std::nullopt, std::move(*pending)};
    auto spent = QuotaSpent(db, intent.auth_cert_fingerprint, intent.device_id, policy);
    if (!spent) return std::unexpected(spent.error());
    if (*spent) return IssueOutcome{**spent, std::nullopt, {}};
  }
  auto in_certificates = CertificateSerialExists(db, intent.serial_hex);
  if (!in_certificates) return std::unexpected(in_certificates.error());
  if (*in_certificates) {
    return std::unexpected(SerialTaken("Reserve", intent.serial_hex, "certificates"));
  }
  auto in_intents = IntentExists(db, intent.serial_hex);
  if (!in_intents) return std::unexpected(in_intents.error());
  if (*in_intents) return std::unexpected(SerialTaken("Reserve", intent.serial_hex, "intents"));
  if (auto inserted = InsertPendingIntent(db, intent); !inserted) {
    return std::unexpected(inserted.error());
  }
  if (auto recorded = InsertChainedEvent(db, IntentStateEvent(intent), ""); !recorded) {
    return std::unexpected(recorded.error());
  }
  return IssueOutcome{Decision::kReserved, std::nullopt, std::nullopt};
}

Result<void> RecordEventInTxn(Connection& db, const EventRecord& event) {
  return InsertChainedEvent(db, event, event.serial_hex);
}

// A refusal commits an empty transaction: nothing was written either way.
Result<IssueOutcome> SqliteStore::Reserve(const Intent& intent, const IssuancePolicy& policy) {
  std::lock_guard lock(mu_);
  std::optional<IssueOutcome> outcome;
  auto done = InWriteTransaction(*db_, [&]() -> Result<void> {
    auto decided = ReserveInTxn(*db_, intent, policy);
    if (!decided) return std::unexpected(decided.error());
    outcome = std::move(*decided);
    return {};
  });
  if (!done) return std::unexpected(done.error());
  return std::move(*outcome);
}

}  // namespace db
