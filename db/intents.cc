// intents.cc — issuance_intents rows (schema version 3): reading and inserting them, phase two of
// an issuance (Store::Complete) and the pending list.
// The state machine is written down in store.h above Store::Reserve.
#include <string>

#include "db/operations.h"
#include "db/rows.h"
#include "db/sqlite_store.h"
#include "db/statement.h"

namespace db {
namespace {

constexpr const char* kSelectIntent = PROVISIOND_INTENT_SELECT "WHERE serial = ?1";
constexpr const char* kIntentExists =
    "SELECT EXISTS (SELECT 1 FROM issuance_intents WHERE serial = ?1)";
constexpr const char* kInsertIntent =
    "INSERT INTO issuance_intents (serial, device_id, kind, public_key_sha256, "
    "auth_cert_fingerprint, auth_cert_issuer, auth_cert_serial, tbs, not_after, peer, created_at, "
    "profile, status) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 'pending')";
// Served by issuance_intents_auth_cert_fingerprint.
constexpr const char* kSelectPendingSameKey = PROVISIOND_INTENT_SELECT
    "WHERE auth_cert_fingerprint = ?1 AND public_key_sha256 = ?2 AND kind = 'enroll' "
    "AND status = 'pending' AND revoked_at IS NULL ORDER BY rowid DESC LIMIT 1";
// Served by the partial index issuance_intents_pending.
constexpr const char* kSelectPending =
    PROVISIOND_INTENT_SELECT "WHERE status = 'pending' ORDER BY created_at, rowid";
constexpr const char* kMarkIssued =
    "UPDATE issuance_intents SET status = 'issued' WHERE serial = ?1 AND status = 'pending'";

Result<std::optional<Intent>> SelectOneIntent(Statement& stmt) {
  auto row = stmt.Step();
  if (!row) return std::unexpected(row.error());
  if (!*row) return std::optional<Intent>();
  return ReadIntent(stmt);
}

}  // namespace

Result<void> CheckMatchesIntent(const CertificateRecord& cert, const Intent& intent) {
  struct Field {
    const char* name;
    const std::string& cert_value;
    const std::string& intent_value;
  };
  const Field fields[] = {
      {"device_id", cert.device_id, intent.device_id},
      {"kind", cert.kind, intent.kind},
      {"public_key_sha256", cert.public_key_sha256, intent.public_key_sha256},
      {"auth_cert_fingerprint", cert.auth_cert_fingerprint, intent.auth_cert_fingerprint},
      {"not_after", cert.not_after, intent.not_after},
      {"profile", cert.profile, intent.profile},
  };
  for (const Field& field : fields) {
    if (field.cert_value != field.intent_value) {
      return Fail(Code::kConstraint, "Complete: certificate " + cert.serial_hex + " has " +
                                         field.name + " '" + field.cert_value +
                                         "' but its intent has '" + field.intent_value + "'");
    }
  }
  return {};
}

Result<bool> IntentExists(Connection& db, std::string_view serial_hex) {
  auto stmt = db.Prepare(kIntentExists);
  if (!stmt) return std::unexpected(stmt.error());
  stmt->BindText(1, serial_hex);
  auto row = stmt->Step();
  if (!row) return std::unexpected(row.error());
  return *row && stmt->Int(0) != 0;
}

Result<void> InsertPendingIntent(Connection& db, const Intent& intent) {
  auto stmt = db.Prepare(kInsertIntent);
  if (!stmt) return std::unexpected(stmt.error());
  stmt->BindText(1, intent.serial_hex);
  stmt->BindText(2, intent.device_id);
  stmt->BindText(3, intent.kind);
  stmt->BindText(4, intent.public_key_sha256);
  stmt->BindText(5, intent.auth_cert_fingerprint);
  stmt->BindText(6, intent.auth_cert_issuer);
  stmt->BindText(7, intent.auth_cert_serial);
  stmt->BindBlob(8, intent.tbs);  // empty binds NULL: refused by NOT NULL
  stmt->BindText(9, intent.not_after);
  stmt->BindText(10, intent.peer);
  stmt->BindText(11, intent.created_at);
  stmt->BindText(12, intent.profile);
  return stmt->Run();
}

Result<std::optional<Intent>> PendingSameKeyEnrollIntent(Connection& db,
                                                         std::string_view auth_cert_fingerprint,
                                                         std::string_view public_key_sha256) {
  auto stmt = db.Prepare(kSelectPendingSameKey);
  if (!stmt) return std::unexpected(stmt.error());
  stmt->BindText(1, auth_cert_fingerprint);
  stmt->BindText(2, public_key_sha256);
  return SelectOneIntent(*stmt);
}

Result<std::vector<Intent>> SelectPendingIntents(Connection& db) {
  auto stmt = db.Prepare(kSelectPending);
  if (!stmt) return std::unexpected(stmt.error());
  std::vector<Intent> intents;
  for (;;) {
    auto row = stmt->Step();
    if (!row) return std::unexpected(row.error());
    if (!*row) return intents;
    intents.push_back(ReadIntent(*stmt));
  }
}

Result<void> CompleteInTxn(Connection& db, const CertificateRecord& cert,
                           const EventRecord& event) {
  if (auto checked = CheckIssuedEventSerial(cert, event, "Complete"); !checked) return checked;
  auto select = db.Prepare(kSelectIntent);
  if (!select) return std::unexpected(select.error());
  select->BindText(1, cert.serial_hex);
  auto found = SelectOneIntent(*select);
  if (!found) return std::unexpected(found.error());
  if (!*found) {
    return Fail(Code::kConstraint, "Complete: no issuance intent with serial " + cert.serial_hex);
  }
  const Intent& intent = **found;
  if (intent.status != "pending") {
    return Fail(Code::kConstraint, "Complete: intent " + cert.serial_hex + " is already " +
                                       intent.status + ", not pending");
  }
  if (intent.revoked_at) {
    return Fail(Code::kConstraint,
                "Complete: intent " + cert.serial_hex + " was revoked at " + *intent.revoked_at);
  }
  if (auto matches = CheckMatchesIntent(cert, intent); !matches) return matches;
  if (auto inserted = InsertIssuance(db, cert, event); !inserted) return inserted;
  auto mark = db.Prepare(kMarkIssued);
  if (!mark) return std::unexpected(mark.error());
  mark->BindText(1, cert.serial_hex);
  return mark->Run();
}

Result<void> SqliteStore::Complete(const CertificateRecord& cert, const EventRecord& issued_event) {
  std::lock_guard lock(mu_);
  return InWriteTransaction(*db_, [&] { return CompleteInTxn(*db_, cert, issued_event); });
}

Result<std::vector<Intent>> SqliteStore::PendingIntents() {
  std::lock_guard lock(mu_);
  return SelectPendingIntents(*db_);
}

}  // namespace db
