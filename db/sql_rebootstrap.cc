// sql_rebootstrap.cc — re-bootstrap grants (a factory-reset device's single-use, time-boxed second
// enrollment), once for both engines: granting, listing, Reserve's check 4r and Complete's
// revoke-previous. The contract is in store.h (Reserve, Complete, GrantRebootstrapRecorded).
#include <string>
#include <utility>
#include <vector>

#include "db/audit_state.h"
#include "db/sql_store.h"

namespace db {
namespace {

// rebootstrap_grants_device_id (device_id, id) serves the per-device lookups.
constexpr const char* kOpenGrantExists =
    "SELECT EXISTS (SELECT 1 FROM rebootstrap_grants WHERE device_id = $1 AND spent_at IS NULL "
    "AND expires_at > $2)";
constexpr const char* kInsertGrant =
    "INSERT INTO rebootstrap_grants (device_id, reason, granted_at, expires_at, revoke_previous) "
    "VALUES ($1, $2, $3, $4, $5) RETURNING id";
#define PROVISIOND_GRANT_SELECT                                                              \
  "SELECT id, device_id, reason, granted_at, expires_at, revoke_previous, spent_at, "        \
  "spent_serial FROM rebootstrap_grants "
constexpr const char* kSelectGrants = PROVISIOND_GRANT_SELECT "ORDER BY id";
constexpr const char* kNewestGrant =
    PROVISIOND_GRANT_SELECT "WHERE device_id = $1 ORDER BY id DESC LIMIT 1";
#undef PROVISIOND_GRANT_SELECT
// The grant is for the device's own bootstrap certificate: one that obtained its first
// certificate (certificates_auth_cert_fingerprint), or whose first enrollment was reserved and
// never completed (a failure after Reserve: a pending intent fills the quota, and a device that
// cannot resume it, e.g. under serverkeygen, whose retry is a new key, is let back in only so;
// the partial issuance_intents_auth_cert_fingerprint), or whose enrollment tidy removed (its
// tombstone: enroll_tombstones_auth_cert_fingerprint).
constexpr const char* kOwnBootstrap =
    "SELECT EXISTS (SELECT 1 FROM certificates WHERE auth_cert_fingerprint = $2 "
    "AND device_id = $1 AND kind = 'enroll') OR EXISTS (SELECT 1 FROM issuance_intents "
    "WHERE auth_cert_fingerprint = $2 AND device_id = $1 AND kind = 'enroll' "
    "AND status = 'pending') OR EXISTS (SELECT 1 FROM enroll_tombstones "
    "WHERE auth_cert_fingerprint = $2 AND device_id = $1)";
// "New" key: never in a certificate of this device (revoked or not, enroll or reenroll) nor in
// one of its pending intents (an issued intent is its certificate). Served by
// certificates_public_key_sha256 and the partial issuance_intents_public_key_sha256.
constexpr const char* kKeyKnownToDevice =
    "SELECT EXISTS (SELECT 1 FROM certificates WHERE public_key_sha256 = $2 AND device_id = $1) "
    "OR EXISTS (SELECT 1 FROM issuance_intents WHERE public_key_sha256 = $2 AND device_id = $1 "
    "AND status = 'pending')";
// The database's own guard: however many transactions try, one row changes once.
constexpr const char* kSpendGrant =
    "UPDATE rebootstrap_grants SET spent_at = $2, spent_serial = $3 "
    "WHERE id = $1 AND spent_at IS NULL AND expires_at > $2 RETURNING id";
// rebootstrap_grants.spent_serial is UNIQUE (its index): one probe per Complete.
constexpr const char* kGrantOfSerial =
    "SELECT revoke_previous FROM rebootstrap_grants WHERE spent_serial = $1";
constexpr const char* kRevokeOthers[] = {
    "UPDATE certificates SET revoked_at = $2, revocation_reason = $3 "
    "WHERE device_id = $1 AND revoked_at IS NULL AND serial <> $4 RETURNING serial, device_id",
    "UPDATE issuance_intents SET revoked_at = $2, revocation_reason = $3 "
    "WHERE device_id = $1 AND status = 'pending' AND revoked_at IS NULL AND serial <> $4 "
    "RETURNING serial, device_id"};
constexpr int kSuperseded = 4;  // RFC 5280 CRLReason

RebootstrapGrant ReadGrant(const RowView& row) {
  RebootstrapGrant grant{.id = row.Int(0),
                         .device_id = row.Text(1),
                         .reason = row.Text(2),
                         .granted_at = row.Text(3),
                         .expires_at = row.Text(4),
                         .revoke_previous = row.Int(5) != 0};
  if (!row.IsNull(6)) grant.spent_at = row.Text(6);
  if (!row.IsNull(7)) grant.spent_serial = row.Text(7);
  return grant;
}

Result<std::vector<RebootstrapGrant>> SelectGrants(SqlSession& db, const char* sql,
                                                   const SqlParams& params) {
  std::vector<RebootstrapGrant> grants;
  auto done = db.Query(sql, params, [&](const RowView& row) { grants.push_back(ReadGrant(row)); });
  if (!done) return std::unexpected(done.error());
  return grants;
}

Result<RebootstrapGrant> InsertGrant(SqlSession& db, const RebootstrapGrant& grant) {
  auto id = SelectInt(db, kInsertGrant,
                      SqlParams()
                          .Text(grant.device_id)
                          .Text(grant.reason)
                          .Text(grant.granted_at)
                          .Text(grant.expires_at)
                          .Int(grant.revoke_previous ? 1 : 0));
  if (!id) return std::unexpected(id.error());
  if (!*id) return base::Fail(Code::kInternal, "GrantRebootstrap: INSERT returned no id");
  RebootstrapGrant stored = grant;
  stored.id = **id;
  stored.spent_at.reset();
  stored.spent_serial.reset();
  return stored;
}

}  // namespace

Result<std::optional<Decision>> RebootstrapInTxn(SqlSession& db, const Intent& intent,
                                                 Decision quota_refusal) {
  auto newest = SelectGrants(db, kNewestGrant, SqlParams().Text(intent.device_id));
  if (!newest) return std::unexpected(newest.error());
  if (newest->empty()) return quota_refusal;
  auto own = SelectTruth(db, kOwnBootstrap,
                         SqlParams().Text(intent.device_id).Sha256(intent.auth_cert_fingerprint));
  if (!own) return std::unexpected(own.error());
  if (!*own) return quota_refusal;
  RebootstrapGrant& grant = newest->front();
  if (grant.spent_at) return Decision::kRebootstrapGrantSpent;
  if (grant.expires_at <= intent.created_at) return Decision::kRebootstrapGrantExpired;
  auto known = SelectTruth(db, kKeyKnownToDevice,
                           SqlParams().Text(intent.device_id).Sha256(intent.public_key_sha256));
  if (!known) return std::unexpected(known.error());
  if (*known) return Decision::kRebootstrapKeyNotNew;
  auto spent = SelectInt(
      db, kSpendGrant, SqlParams().Int(grant.id).Text(intent.created_at).Text(intent.serial_hex));
  if (!spent) return std::unexpected(spent.error());
  if (!*spent) return Decision::kRebootstrapGrantSpent;  // another transaction got there first
  grant.spent_at = intent.created_at;
  grant.spent_serial = intent.serial_hex;
  if (auto r = db.AppendEvent(SpentStateEvent(grant), ""); !r) return std::unexpected(r.error());
  return std::optional<Decision>();
}

Result<void> RevokePreviousInTxn(SqlSession& db, const CertificateRecord& cert) {
  auto revoke_previous = SelectInt(db, kGrantOfSerial, SqlParams().Text(cert.serial_hex));
  if (!revoke_previous) return std::unexpected(revoke_previous.error());
  if (revoke_previous->value_or(0) == 0) return {};
  for (const char* sql : kRevokeOthers) {
    std::vector<std::pair<std::string, std::string>> rows;  // serial, device id
    auto ran = db.Query(sql,
                        SqlParams()
                            .Text(cert.device_id)
                            .Text(cert.issued_at)
                            .Int(kSuperseded)
                            .Text(cert.serial_hex),
                        [&](const RowView& row) { rows.emplace_back(row.Text(0), row.Text(1)); });
    if (!ran) return ran;
    for (const auto& [serial, device_id] : rows) {
      auto event = RevokedStateEvent(serial, device_id, cert.issued_at, kSuperseded);
      if (auto appended = db.AppendEvent(event, ""); !appended) return appended;
    }
  }
  return {};
}

Result<std::optional<RebootstrapGrant>> SqlStore::GrantRebootstrapRecorded(
    const RebootstrapGrant& grant,
    const std::function<EventRecord(const RebootstrapGrant&)>& admin_event) {
  if (grant.device_id.empty() || grant.reason.empty()) {
    return base::Fail(Code::kConstraint, "GrantRebootstrap: empty device id or reason");
  }
  if (grant.expires_at <= grant.granted_at) {
    return base::Fail(Code::kConstraint, "GrantRebootstrap: expires_at " + grant.expires_at +
                                             " is not after granted_at " + grant.granted_at);
  }
  return Use<std::optional<RebootstrapGrant>>(
      [&](SqlSession& db) -> Result<std::optional<RebootstrapGrant>> {
        std::optional<RebootstrapGrant> stored;
        auto done = db.InWrite([&]() -> Result<void> {
          auto open = SelectTruth(db, kOpenGrantExists,
                                  SqlParams().Text(grant.device_id).Text(grant.granted_at));
          if (!open) return std::unexpected(open.error());
          if (*open) return {};
          auto inserted = InsertGrant(db, grant);
          if (!inserted) return std::unexpected(inserted.error());
          stored = std::move(*inserted);
          if (auto r = db.AppendEvent(GrantedStateEvent(*stored), ""); !r) return r;
          if (!admin_event) return {};
          return RecordEventInTxn(db, admin_event(*stored));
        });
        if (!done) return std::unexpected(done.error());
        return stored;
      });
}

Result<std::vector<RebootstrapGrant>> SqlStore::ListGrants() {
  return Use<std::vector<RebootstrapGrant>>(
      [&](SqlSession& db) { return SelectGrants(db, kSelectGrants, {}); });
}

}  // namespace db
