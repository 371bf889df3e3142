// lifecycle.cc — revocation, the bootstrap denylist, CRL support and certificate listing. The
// status and denylist lookups run during TLS handshakes: each is one probe of an index (two for a
// serial that is no certificate's). Revocation and the CRL cover pending issuance intents too.
#include <algorithm>
#include <iterator>
#include <string>

#include "db/audit.h"
#include "db/audit_state.h"
#include "db/operations.h"
#include "db/rows.h"
#include "db/sqlite_store.h"
#include "db/statement.h"

namespace db {
namespace {

// certificates.serial is UNIQUE (its automatic index).
constexpr const char* kSelectRevoked =
    "SELECT revoked_at IS NOT NULL FROM certificates WHERE serial = ?1";
// "AND revoked_at IS NULL": a revocation's time and reason are never overwritten.
constexpr const char* kRevokeSerial =
    "UPDATE certificates SET revoked_at = ?2, revocation_reason = ?3 "
    "WHERE serial = ?1 AND revoked_at IS NULL RETURNING serial, device_id";
constexpr const char* kRevokeDevice =
    "UPDATE certificates SET revoked_at = ?2, revocation_reason = ?3 "
    "WHERE device_id = ?1 AND revoked_at IS NULL RETURNING serial, device_id";

constexpr const char* kInsertDeny =
    "INSERT INTO bootstrap_denylist (fingerprint, issuer, serial, reason, added_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id";
// Two EXISTS, not one OR, so each uses its own index (bootstrap_denylist_fingerprint,
// bootstrap_denylist_issuer_serial).
constexpr const char* kIsDenied =
    "SELECT EXISTS (SELECT 1 FROM bootstrap_denylist WHERE fingerprint = ?1) "
    "OR EXISTS (SELECT 1 FROM bootstrap_denylist WHERE issuer = ?2 AND serial = ?3)";
constexpr const char* kSelectDenied =
    "SELECT fingerprint, issuer, serial, reason, added_at FROM bootstrap_denylist ORDER BY id";

// Ordered as the partial index certificates_revoked_not_after is (not_after, then rowid), so the
// query reads only that index's range; with ORDER BY id SQLite would rather scan the table.
constexpr const char* kSelectRevokedUnexpired =
    PROVISIOND_CERT_SELECT "WHERE revoked_at IS NOT NULL AND not_after > ?1 ORDER BY not_after, id";
constexpr const char* kNextCrlNumber =
    "UPDATE crl_state SET number = number + 1 WHERE id = 1 RETURNING number";

using RevokeIntentsFn = Result<std::vector<RevokedRow>> (*)(Connection&, std::string_view, int,
                                                             std::string_view);

// Revokes the certificates matching `sql` and the pending intents `revoke_intents` matches, and
// appends a "revoked" state event per row to the audit chain, in one transaction; returns the
// number of rows changed in both tables.
Result<int> Revoke(Connection& db, const char* sql, RevokeIntentsFn revoke_intents,
                   std::string_view key, int reason, std::string_view revoked_at) {
  int changed = 0;
  auto done = InWriteTransaction(db, [&]() -> Result<void> {
    auto stmt = db.Prepare(sql);
    if (!stmt) return std::unexpected(stmt.error());
    stmt->BindText(1, key);
    stmt->BindText(2, revoked_at);
    stmt->BindInt(3, reason);
    auto rows = ReadRevokedRows(*stmt);
    if (!rows) return std::unexpected(rows.error());
    auto intents = revoke_intents(db, key, reason, revoked_at);
    if (!intents) return std::unexpected(intents.error());
    rows->insert(rows->end(), intents->begin(), intents->end());
    for (const RevokedRow& row : *rows) {
      auto event = RevokedStateEvent(row.serial_hex, row.device_id, revoked_at, reason);
      if (auto r = InsertChainedEvent(db, event, ""); !r) return r;
    }
    changed = static_cast<int>(rows->size());
    return {};
  });
  if (!done) return std::unexpected(done.error());
  return changed;
}

}  // namespace

Result<CertStatus> SqliteStore::CertificateStatus(std::string_view serial_hex) {
  std::lock_guard lock(mu_);
  auto stmt = db_->Prepare(kSelectRevoked);
  if (!stmt) return std::unexpected(stmt.error());
  stmt->BindText(1, serial_hex);
  auto row = stmt->Step();
  if (!row) return std::unexpected(row.error());
  if (*row) return stmt->Int(0) != 0 ? CertStatus::kRevoked : CertStatus::kActive;
  // Not a certificate: a revoked intent's serial is on the CRL, so it is reported revoked too.
  auto intent_revoked = IntentRevoked(*db_, serial_hex);
  if (!intent_revoked) return std::unexpected(intent_revoked.error());
  return intent_revoked->value_or(false) ? CertStatus::kRevoked : CertStatus::kUnknown;
}

Result<int> SqliteStore::RevokeSerial(std::string_view serial_hex, int reason,
                                      std::string_view revoked_at) {
  std::lock_guard lock(mu_);
  return Revoke(*db_, kRevokeSerial, RevokePendingIntentsBySerial, serial_hex, reason, revoked_at);
}

Result<int> SqliteStore::RevokeDevice(std::string_view device_id, int reason,
                                      std::string_view revoked_at) {
  std::lock_guard lock(mu_);
  return Revoke(*db_, kRevokeDevice, RevokePendingIntentsByDevice, device_id, reason, revoked_at);
}

Result<void> SqliteStore::DenyBootstrap(const DenyEntry& entry) {
  std::lock_guard lock(mu_);
  return InWriteTransaction(*db_, [&]() -> Result<void> {
    auto stmt = db_->Prepare(kInsertDeny);
    if (!stmt) return std::unexpected(stmt.error());
    stmt->BindTextOrNull(1, entry.fingerprint);
    stmt->BindTextOrNull(2, entry.issuer);
    stmt->BindTextOrNull(3, entry.serial_hex);
    stmt->BindText(4, entry.reason);
    stmt->BindText(5, entry.added_at);
    auto row = stmt->Step();
    if (!row) return std::unexpected(row.error());
    if (!*row) return Fail(Code::kInternal, "DenyBootstrap: INSERT returned no id");
    const int64_t id = stmt->Int(0);
    // Step to the end so the statement is no longer active at COMMIT.
    if (auto end = stmt->Step(); !end) return std::unexpected(end.error());
    return InsertChainedEvent(*db_, DeniedStateEvent(id, entry), "");
  });
}

Result<bool> SqliteStore::IsBootstrapDenied(std::string_view fingerprint, std::string_view issuer,
                                            std::string_view serial_hex) {
  std::lock_guard lock(mu_);
  return BootstrapDenied(*db_, fingerprint, issuer, serial_hex);
}

Result<bool> BootstrapDenied(Connection& db, std::string_view fingerprint, std::string_view issuer,
                             std::string_view serial_hex) {
  auto stmt = db.Prepare(kIsDenied);
  if (!stmt) return std::unexpected(stmt.error());
  // Bound as text even when empty: '' equals no stored value (NULL or a CHECKed non-empty one).
  stmt->BindText(1, fingerprint);
  stmt->BindText(2, issuer);
  stmt->BindText(3, serial_hex);
  auto row = stmt->Step();
  if (!row) return std::unexpected(row.error());
  return *row && stmt->Int(0) != 0;
}

Result<std::vector<DenyEntry>> SqliteStore::ListDenied() {
  std::lock_guard lock(mu_);
  auto stmt = db_->Prepare(kSelectDenied);
  if (!stmt) return std::unexpected(stmt.error());
  std::vector<DenyEntry> entries;
  for (;;) {
    auto row = stmt->Step();
    if (!row) return std::unexpected(row.error());
    if (!*row) return entries;
    entries.push_back(DenyEntry{.fingerprint = stmt->Text(0),  // NULL reads as ""
                                .issuer = stmt->Text(1),
                                .serial_hex = stmt->Text(2),
                                .reason = stmt->Text(3),
                                .added_at = stmt->Text(4)});
  }
}

Result<std::vector<CertificateRecord>> SqliteStore::RevokedUnexpired(std::string_view now_iso) {
  std::lock_guard lock(mu_);
  auto stmt = db_->Prepare(kSelectRevokedUnexpired);
  if (!stmt) return std::unexpected(stmt.error());
  stmt->BindText(1, now_iso);
  auto certificates = ReadAllCertificates(*stmt);
  if (!certificates) return certificates;
  auto intents = RevokedUnexpiredIntents(*db_, now_iso);
  if (!intents) return intents;
  // Both sorted by not_after; std::merge takes certificates first on equal keys.
  std::vector<CertificateRecord> merged;
  merged.reserve(certificates->size() + intents->size());
  std::merge(
      std::make_move_iterator(certificates->begin()), std::make_move_iterator(certificates->end()),
      std::make_move_iterator(intents->begin()), std::make_move_iterator(intents->end()),
      std::back_inserter(merged), [](const CertificateRecord& a, const CertificateRecord& b) {
        return a.not_after < b.not_after;
      });
  return merged;
}

Result<int64_t> SqliteStore::NextCrlNumber() {
  std::lock_guard lock(mu_);
  int64_t number = 0;
  auto done = InWriteTransaction(*db_, [&]() -> Result<void> {
    auto stmt = db_->Prepare(kNextCrlNumber);
    if (!stmt) return std::unexpected(stmt.error());
    auto row = stmt->Step();
    if (!row) return std::unexpected(row.error());
    // Migration 2 inserts the row and nothing of ours deletes it.
    if (!*row) return Fail(Code::kCorrupt, "crl_state: the row with id 1 is missing");
    number = stmt->Int(0);
    // Step to the end so the statement is no longer active at COMMIT.
    auto end = stmt->Step();
    if (!end) return std::unexpected(end.error());
    return {};
  });
  if (!done) return std::unexpected(done.error());
  return number;
}

Result<std::vector<CertificateRecord>> SqliteStore::ListCertificates(const ListFilter& filter) {
  std::lock_guard lock(mu_);
  // SQLite reads a negative LIMIT as "no limit"; a caller asking for <= 0 rows gets none.
  if (filter.limit <= 0) return std::vector<CertificateRecord>();
  // Only our own fixed fragments are joined into the SQL (so each query can use its index rather
  // than "?1 IS NULL OR ..."); every value is bound. revoked_only together with
  // expiring_before_iso matches nothing, as the two conditions exclude each other.
  std::string sql = PROVISIOND_CERT_SELECT "WHERE 1";
  if (filter.device_id) sql += " AND device_id = ?1";
  if (filter.revoked_only) sql += " AND revoked_at IS NOT NULL";
  if (filter.expiring_before_iso) sql += " AND revoked_at IS NULL AND not_after < ?2";
  sql += " ORDER BY id LIMIT ?3";
  // Built per call, so not for the connection's cache (meant for fixed SQL): compiled per call.
  auto stmt = Statement::Prepare(db_->get(), sql);
  if (!stmt) return std::unexpected(stmt.error());
  if (filter.device_id) stmt->BindText(1, *filter.device_id);
  if (filter.expiring_before_iso) stmt->BindText(2, *filter.expiring_before_iso);
  stmt->BindInt(3, filter.limit);
  return ReadAllCertificates(*stmt);
}

}  // namespace db
