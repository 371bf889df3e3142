// pg_lifecycle.cc — PgStore's revocation, bootstrap denylist, device blocks, CRL support and
// listing. Every write takes the store's write lock (InPgWriteTransaction) and appends its state
// event to the one hash chain in the same transaction; the CRL number is one UPDATE ... RETURNING.
#include <algorithm>
#include <iterator>
#include <string>

#include "db/audit_state.h"
#include "db/pg_conn.h"
#include "db/pg_ops.h"
#include "db/pg_store.h"

namespace db {
namespace {

constexpr const char* kSelectRevoked =
    "SELECT revoked_at IS NOT NULL FROM certificates WHERE serial = $1";
constexpr const char* kSelectIntentRevoked =
    "SELECT revoked_at IS NOT NULL FROM issuance_intents WHERE serial = $1";
constexpr const char* kRevokeSerial =
    "UPDATE certificates SET revoked_at = $2, revocation_reason = $3 "
    "WHERE serial = $1 AND revoked_at IS NULL RETURNING serial, device_id";
constexpr const char* kRevokeDevice =
    "UPDATE certificates SET revoked_at = $2, revocation_reason = $3 "
    "WHERE device_id = $1 AND revoked_at IS NULL RETURNING serial, device_id";
constexpr const char* kRevokeIntentSerial =
    "UPDATE issuance_intents SET revoked_at = $2, revocation_reason = $3 "
    "WHERE serial = $1 AND status = 'pending' AND revoked_at IS NULL RETURNING serial, device_id";
constexpr const char* kRevokeIntentDevice =
    "UPDATE issuance_intents SET revoked_at = $2, revocation_reason = $3 "
    "WHERE device_id = $1 AND status = 'pending' AND revoked_at IS NULL "
    "RETURNING serial, device_id";
constexpr const char* kInsertDeny =
    "INSERT INTO bootstrap_denylist (fingerprint, issuer, serial, reason, added_at) "
    "VALUES ($1, $2, $3, $4, $5) RETURNING id";
constexpr const char* kIsDenied =
    "SELECT EXISTS (SELECT 1 FROM bootstrap_denylist WHERE fingerprint = $1) "
    "OR EXISTS (SELECT 1 FROM bootstrap_denylist WHERE issuer = $2 AND serial = $3)";
constexpr const char* kSelectDenied =
    "SELECT fingerprint, issuer, serial, reason, added_at FROM bootstrap_denylist ORDER BY id";
constexpr const char* kIsBlocked =
    "SELECT EXISTS (SELECT 1 FROM device_blocks WHERE device_id = $1 AND lifted_at IS NULL)";
constexpr const char* kInsertBlock =
    "INSERT INTO device_blocks (device_id, reason, blocked_at) VALUES ($1, $2, $3) RETURNING id";
constexpr const char* kLiftBlock =
    "UPDATE device_blocks SET lifted_at = $2, lift_reason = $3 "
    "WHERE device_id = $1 AND lifted_at IS NULL RETURNING id, reason, blocked_at";
constexpr const char* kSelectBlocks =
    "SELECT id, device_id, reason, blocked_at, lifted_at, lift_reason FROM device_blocks "
    "ORDER BY id";
constexpr const char* kSelectActiveBlocks =
    "SELECT id, device_id, reason, blocked_at, lifted_at, lift_reason FROM device_blocks "
    "WHERE lifted_at IS NULL ORDER BY id";
constexpr const char* kSelectRevokedUnexpired =
    PROVISIOND_CERT_SELECT "WHERE revoked_at IS NOT NULL AND not_after > $1 ORDER BY not_after, id";
constexpr const char* kSelectRevokedIntents =
    "SELECT serial, device_id, kind, public_key_sha256, auth_cert_fingerprint, auth_cert_issuer, "
    "auth_cert_serial, not_after, peer, revoked_at, revocation_reason, profile "
    "FROM issuance_intents WHERE revoked_at IS NOT NULL AND not_after > $1 AND status = 'pending' "
    "ORDER BY not_after, rowid";
// One row, locked by the UPDATE until commit: two callers on any replicas take turns and each
// gets its own number, strictly increasing, without gaps (a sequence could skip on rollback).
constexpr const char* kNextCrlNumber =
    "UPDATE crl_state SET number = number + 1 WHERE id = 1 RETURNING number";
// Each filter is "$n IS NULL OR ...", so one fixed statement serves every combination.
constexpr const char* kListCertificates = PROVISIOND_CERT_SELECT
    "WHERE ($1::text IS NULL OR device_id = $1) AND (NOT $2::boolean OR revoked_at IS NOT NULL) "
    "AND ($3::text IS NULL OR (revoked_at IS NULL AND not_after < $3)) ORDER BY id LIMIT $4";

// Revokes the rows `certs_sql` and `intents_sql` match, one "revoked" state event each, in one
// transaction; returns how many rows changed.
Result<int> Revoke(PgConn& db, const char* certs_sql, const char* intents_sql, std::string_view key,
                   int reason, std::string_view revoked_at) {
  int changed = 0;
  auto done = InPgWriteTransaction(db, [&]() -> Result<void> {
    for (const char* sql : {certs_sql, intents_sql}) {
      auto rows = db.Query(sql, PgParams().Text(key).Text(revoked_at).Int(reason));
      if (!rows) return std::unexpected(rows.error());
      for (int i = 0; i < rows->size(); ++i) {
        auto event = RevokedStateEvent(rows->Row(i).Text(0), rows->Row(i).Text(1), revoked_at,
                                       reason);
        if (auto r = PgAppendEvent(db, event, ""); !r) return r;
      }
      changed += rows->size();
    }
    return {};
  });
  if (!done) return std::unexpected(done.error());
  return changed;
}

Result<bool> QueryBool(PgConn& db, const char* sql, const PgParams& params) {
  auto rows = db.Query(sql, params);
  if (!rows) return std::unexpected(rows.error());
  return !rows->empty() && rows->Row(0).Text(0) == "t";
}

}  // namespace

Result<CertStatus> PgStore::CertificateStatus(std::string_view serial_hex) {
  std::lock_guard lock(mu_);
  auto rows = db_->Query(kSelectRevoked, PgParams().Text(serial_hex));
  if (!rows) return std::unexpected(rows.error());
  if (!rows->empty()) {
    return rows->Row(0).Text(0) == "t" ? CertStatus::kRevoked : CertStatus::kActive;
  }
  auto intent = QueryBool(*db_, kSelectIntentRevoked, PgParams().Text(serial_hex));
  if (!intent) return std::unexpected(intent.error());
  return *intent ? CertStatus::kRevoked : CertStatus::kUnknown;
}

Result<int> PgStore::RevokeSerial(std::string_view serial_hex, int reason,
                                  std::string_view revoked_at) {
  std::lock_guard lock(mu_);
  return Revoke(*db_, kRevokeSerial, kRevokeIntentSerial, serial_hex, reason, revoked_at);
}

Result<int> PgStore::RevokeDevice(std::string_view device_id, int reason,
                                  std::string_view revoked_at) {
  std::lock_guard lock(mu_);
  return Revoke(*db_, kRevokeDevice, kRevokeIntentDevice, device_id, reason, revoked_at);
}

Result<void> PgStore::DenyBootstrap(const DenyEntry& entry) {
  std::lock_guard lock(mu_);
  return InPgWriteTransaction(*db_, [&]() -> Result<void> {
    auto rows = db_->Query(kInsertDeny, PgParams()
                                            .TextOrNull(entry.fingerprint)
                                            .TextOrNull(entry.issuer)
                                            .TextOrNull(entry.serial_hex)
                                            .Text(entry.reason)
                                            .Text(entry.added_at));
    if (!rows) return std::unexpected(rows.error());
    if (rows->empty()) return base::Fail(Code::kInternal, "DenyBootstrap: INSERT returned no id");
    return PgAppendEvent(*db_, DeniedStateEvent(rows->Row(0).Int(0), entry), "");
  });
}

Result<bool> PgStore::IsBootstrapDenied(std::string_view fingerprint, std::string_view issuer,
                                        std::string_view serial_hex) {
  std::lock_guard lock(mu_);
  return QueryBool(*db_, kIsDenied, PgParams().Text(fingerprint).Text(issuer).Text(serial_hex));
}

Result<std::vector<DenyEntry>> PgStore::ListDenied() {
  std::lock_guard lock(mu_);
  auto rows = db_->Query(kSelectDenied);
  if (!rows) return std::unexpected(rows.error());
  std::vector<DenyEntry> entries;
  for (int i = 0; i < rows->size(); ++i) {
    PgRow row = rows->Row(i);
    entries.push_back(DenyEntry{.fingerprint = row.Text(0),
                                .issuer = row.Text(1),
                                .serial_hex = row.Text(2),
                                .reason = row.Text(3),
                                .added_at = row.Text(4)});
  }
  return entries;
}

Result<bool> PgStore::BlockDevice(std::string_view device_id, std::string_view reason,
                                  std::string_view blocked_at) {
  std::lock_guard lock(mu_);
  if (device_id.empty()) return base::Fail(Code::kConstraint, "BlockDevice: empty device id");
  bool blocked = false;
  auto done = InPgWriteTransaction(*db_, [&]() -> Result<void> {
    auto already = QueryBool(*db_, kIsBlocked, PgParams().Text(device_id));
    if (!already) return std::unexpected(already.error());
    if (*already) return {};
    auto rows = db_->Query(kInsertBlock, PgParams().Text(device_id).Text(reason).Text(blocked_at));
    if (!rows) return std::unexpected(rows.error());
    if (rows->empty()) return base::Fail(Code::kInternal, "BlockDevice: INSERT returned no id");
    DeviceBlock block{.id = rows->Row(0).Int(0),
                      .device_id = std::string(device_id),
                      .reason = std::string(reason),
                      .blocked_at = std::string(blocked_at)};
    blocked = true;
    return PgAppendEvent(*db_, BlockedStateEvent(block), "");
  });
  if (!done) return std::unexpected(done.error());
  return blocked;
}

Result<bool> PgStore::UnblockDevice(std::string_view device_id, std::string_view reason,
                                    std::string_view lifted_at) {
  std::lock_guard lock(mu_);
  bool lifted = false;
  auto done = InPgWriteTransaction(*db_, [&]() -> Result<void> {
    auto rows = db_->Query(kLiftBlock, PgParams().Text(device_id).Text(lifted_at).Text(reason));
    if (!rows) return std::unexpected(rows.error());
    if (rows->empty()) return {};  // the unique partial index allows at most one active block
    DeviceBlock block{.id = rows->Row(0).Int(0),
                      .device_id = std::string(device_id),
                      .reason = rows->Row(0).Text(1),
                      .blocked_at = rows->Row(0).Text(2),
                      .lifted_at = std::string(lifted_at),
                      .lift_reason = std::string(reason)};
    lifted = true;
    return PgAppendEvent(*db_, UnblockedStateEvent(block), "");
  });
  if (!done) return std::unexpected(done.error());
  return lifted;
}

Result<bool> PgStore::IsDeviceBlocked(std::string_view device_id) {
  std::lock_guard lock(mu_);
  return QueryBool(*db_, kIsBlocked, PgParams().Text(device_id));
}

Result<std::vector<DeviceBlock>> PgStore::ListBlocks(bool active_only) {
  std::lock_guard lock(mu_);
  auto rows = db_->Query(active_only ? kSelectActiveBlocks : kSelectBlocks);
  if (!rows) return std::unexpected(rows.error());
  std::vector<DeviceBlock> blocks;
  for (int i = 0; i < rows->size(); ++i) {
    PgRow row = rows->Row(i);
    DeviceBlock block{
        .id = row.Int(0), .device_id = row.Text(1), .reason = row.Text(2), .blocked_at = row.Text(3)};
    if (!row.IsNull(4)) block.lifted_at = row.Text(4);
    if (!row.IsNull(5)) block.lift_reason = row.Text(5);
    blocks.push_back(std::move(block));
  }
  return blocks;
}

Result<std::vector<CertificateRecord>> PgStore::RevokedUnexpired(std::string_view now_iso) {
  std::lock_guard lock(mu_);
  auto certs = db_->Query(kSelectRevokedUnexpired, PgParams().Text(now_iso));
  if (!certs) return std::unexpected(certs.error());
  auto intents = db_->Query(kSelectRevokedIntents, PgParams().Text(now_iso));
  if (!intents) return std::unexpected(intents.error());
  std::vector<CertificateRecord> from_intents;
  for (int i = 0; i < intents->size(); ++i) {
    PgRow row = intents->Row(i);
    CertificateRecord record{.serial_hex = row.Text(0),
                             .device_id = row.Text(1),
                             .not_after = row.Text(7),
                             .public_key_sha256 = row.Text(3),
                             .auth_cert_issuer = row.Text(5),
                             .auth_cert_serial = row.Text(6),
                             .auth_cert_fingerprint = row.Text(4),
                             .kind = row.Text(2),
                             .peer = row.Text(8),
                             .revoked_at = row.Text(9),
                             .profile = row.Text(11)};
    if (!row.IsNull(10)) record.revocation_reason = static_cast<int>(row.Int(10));
    from_intents.push_back(std::move(record));
  }
  std::vector<CertificateRecord> from_certs = PgReadCertificates(*certs);
  // Both sorted by not_after; std::merge takes certificates first on equal keys.
  std::vector<CertificateRecord> merged;
  merged.reserve(from_certs.size() + from_intents.size());
  std::merge(std::make_move_iterator(from_certs.begin()), std::make_move_iterator(from_certs.end()),
             std::make_move_iterator(from_intents.begin()),
             std::make_move_iterator(from_intents.end()), std::back_inserter(merged),
             [](const CertificateRecord& a, const CertificateRecord& b) {
               return a.not_after < b.not_after;
             });
  return merged;
}

Result<int64_t> PgStore::NextCrlNumber() {
  std::lock_guard lock(mu_);
  auto rows = db_->Query(kNextCrlNumber);  // autocommit: its own transaction
  if (!rows) return std::unexpected(rows.error());
  if (rows->empty()) return base::Fail(Code::kCorrupt, "crl_state: the row with id 1 is missing");
  return rows->Row(0).Int(0);
}

Result<std::vector<CertificateRecord>> PgStore::ListCertificates(const ListFilter& filter) {
  std::lock_guard lock(mu_);
  if (filter.limit <= 0) return std::vector<CertificateRecord>();
  auto rows = db_->Query(kListCertificates,
                         PgParams()
                             .OptionalText(filter.device_id)
                             .Text(filter.revoked_only ? "true" : "false")
                             .OptionalText(filter.expiring_before_iso)
                             .Int(filter.limit));
  if (!rows) return std::unexpected(rows.error());
  return PgReadCertificates(*rows);
}

}  // namespace db
