// sql_store.cc — revocation, the bootstrap denylist, the CRL's rows and number, listings and
// lookups, once for both engines (see sql_store.h). The status and denylist lookups run during
// TLS handshakes: each is one probe of an index (two for a serial that is no certificate's).
// Revocation and the CRL cover pending issuance intents too.
#include "db/sql_store.h"

#include <algorithm>
#include <iterator>
#include <string>

#include "db/audit_state.h"
#include "db/row_read.h"

namespace db {
namespace {

// certificates.serial is UNIQUE (its automatic index).
constexpr const char* kSelectRevoked =
    "SELECT revoked_at IS NOT NULL FROM certificates WHERE serial = $1";
constexpr const char* kSelectIntentRevoked =
    "SELECT revoked_at IS NOT NULL FROM issuance_intents WHERE serial = $1";
// "AND revoked_at IS NULL": a revocation's time and reason are never overwritten. Only pending
// intents are revoked (an issued one is its certificate's row).
constexpr const char* kRevokeSerial[] = {
    "UPDATE certificates SET revoked_at = $2, revocation_reason = $3 "
    "WHERE serial = $1 AND revoked_at IS NULL RETURNING serial, device_id",
    "UPDATE issuance_intents SET revoked_at = $2, revocation_reason = $3 "
    "WHERE serial = $1 AND status = 'pending' AND revoked_at IS NULL RETURNING serial, device_id"};
constexpr const char* kRevokeDevice[] = {
    "UPDATE certificates SET revoked_at = $2, revocation_reason = $3 "
    "WHERE device_id = $1 AND revoked_at IS NULL RETURNING serial, device_id",
    "UPDATE issuance_intents SET revoked_at = $2, revocation_reason = $3 "
    "WHERE device_id = $1 AND status = 'pending' AND revoked_at IS NULL "
    "RETURNING serial, device_id"};
constexpr const char* kInsertDeny =
    "INSERT INTO bootstrap_denylist (fingerprint, issuer, serial, reason, added_at) "
    "VALUES ($1, $2, $3, $4, $5) RETURNING id";
// Two EXISTS, not one OR, so each uses its own index (bootstrap_denylist_fingerprint,
// bootstrap_denylist_issuer_serial).
constexpr const char* kIsDenied =
    "SELECT EXISTS (SELECT 1 FROM bootstrap_denylist WHERE fingerprint = $1) "
    "OR EXISTS (SELECT 1 FROM bootstrap_denylist WHERE issuer = $2 AND serial = $3)";
constexpr const char* kSelectDenied =
    "SELECT fingerprint, issuer, serial, reason, added_at FROM bootstrap_denylist ORDER BY id";
// Ordered as the partial index certificates_revoked_not_after is (not_after, then id), so the
// query reads only that index's range.
constexpr const char* kSelectRevokedUnexpired =
    PROVISIOND_CERT_SELECT "WHERE revoked_at IS NOT NULL AND not_after > $1 ORDER BY not_after, id";
// Served by the partial index issuance_intents_revoked_not_after. "status = 'pending'" keeps a
// hand-edited issued row from listing its serial twice.
constexpr const char* kSelectRevokedIntents =
    "SELECT serial, device_id, kind, public_key_sha256, auth_cert_fingerprint, auth_cert_issuer, "
    "auth_cert_serial, not_after, peer, revoked_at, revocation_reason, profile "
    "FROM issuance_intents WHERE revoked_at IS NOT NULL AND not_after > $1 AND status = 'pending' "
    "ORDER BY not_after, rowid";
// One row, locked by the UPDATE until commit: two callers on any connection (or replica) take
// turns and each gets its own number, strictly increasing, without gaps.
constexpr const char* kNextCrlNumber =
    "UPDATE crl_state SET number = number + 1 WHERE id = 1 RETURNING number";
constexpr const char* kSelectBySerial = PROVISIOND_CERT_SELECT "WHERE serial = $1";
constexpr const char* kSelectByDevice = PROVISIOND_CERT_SELECT "WHERE device_id = $1 ORDER BY id";
// By id, not time: id is the order rows were committed, and the wall clock can step backwards.
constexpr const char* kSelectRecentEvents =
    "SELECT " PROVISIOND_EVENT_COLUMNS "FROM enrollment_events ORDER BY id DESC LIMIT $1";
constexpr const char* kCountCertificates = "SELECT count(*) FROM certificates";
// Both counts are served by the revoked_not_after partial indexes (their WHERE implies ours).
constexpr const char* kRevocationCount =
    "SELECT (SELECT count(*) FROM certificates WHERE revoked_at IS NOT NULL) + "
    "(SELECT count(*) FROM issuance_intents WHERE revoked_at IS NOT NULL)";

Result<std::vector<CertificateRecord>> SelectCertificates(SqlSession& db, const char* sql,
                                                          const SqlParams& params) {
  std::vector<CertificateRecord> certs;
  auto done =
      db.Query(sql, params, [&](const RowView& row) { certs.push_back(ReadCertificate(row)); });
  if (!done) return std::unexpected(done.error());
  return certs;
}

// A revoked pending intent as a CRL record (store.h: RevokedUnexpired).
CertificateRecord RevokedIntentRecord(const RowView& row) {
  CertificateRecord record{.serial_hex = row.Text(0),
                           .device_id = row.Text(1),
                           .not_after = row.Text(7),
                           .public_key_sha256 = Sha256Column(row, 3),
                           .auth_cert_issuer = row.Text(5),
                           .auth_cert_serial = row.Text(6),
                           .auth_cert_fingerprint = Sha256Column(row, 4),
                           .kind = row.Text(2),
                           .peer = row.Text(8),
                           .revoked_at = row.Text(9),
                           .profile = row.Text(11),
                           .ca_gen = 0};  // an intent does not record its generation (store.h)
  if (!row.IsNull(10)) record.revocation_reason = static_cast<int>(row.Int(10));
  return record;
}

// Revokes the rows the two statements match (certificates, then pending intents), one "revoked"
// state event each, then (if given) the admin event built from the count, in one transaction;
// returns how many rows changed.
using AdminEventFor = std::function<EventRecord(int changed)>;
Result<int> Revoke(SqlSession& db, const char* const (&sql)[2], std::string_view key, int reason,
                   std::string_view revoked_at, const AdminEventFor& admin_event = {}) {
  int changed = 0;
  auto done = db.InWrite([&]() -> Result<void> {
    for (const char* statement : sql) {
      std::vector<std::pair<std::string, std::string>> rows;  // serial, device id
      auto ran = db.Query(statement, SqlParams().Text(key).Text(revoked_at).Int(reason),
                          [&](const RowView& row) { rows.emplace_back(row.Text(0), row.Text(1)); });
      if (!ran) return ran;
      for (const auto& [serial, device_id] : rows) {
        auto event = RevokedStateEvent(serial, device_id, revoked_at, reason);
        if (auto appended = db.AppendEvent(event, ""); !appended) return appended;
      }
      changed += static_cast<int>(rows.size());
    }
    if (!admin_event) return {};
    return RecordEventInTxn(db, admin_event(changed));
  });
  if (!done) return std::unexpected(done.error());
  return changed;
}

}  // namespace

Result<std::optional<int64_t>> SelectInt(SqlSession& db, const char* sql, const SqlParams& params) {
  std::optional<int64_t> value;
  auto done = db.Query(sql, params, [&](const RowView& row) {
    if (!value) value = row.Int(0);
  });
  if (!done) return std::unexpected(done.error());
  return value;
}

Result<bool> SelectTruth(SqlSession& db, const char* sql, const SqlParams& params) {
  std::optional<bool> value;
  auto done = db.Query(sql, params, [&](const RowView& row) {
    if (!value) value = Truth(row, 0);
  });
  if (!done) return std::unexpected(done.error());
  return value.value_or(false);
}

Result<CertStatus> SqlStore::CertificateStatus(std::string_view serial_hex) {
  return Use<CertStatus>([&](SqlSession& db) -> Result<CertStatus> {
    std::optional<bool> revoked;
    auto done = db.Query(kSelectRevoked, SqlParams().Text(serial_hex),
                         [&](const RowView& row) { revoked = Truth(row, 0); });
    if (!done) return std::unexpected(done.error());
    if (revoked) return *revoked ? CertStatus::kRevoked : CertStatus::kActive;
    // Not a certificate: a revoked intent's serial is on the CRL, so it is reported revoked too.
    auto intent = SelectTruth(db, kSelectIntentRevoked, SqlParams().Text(serial_hex));
    if (!intent) return std::unexpected(intent.error());
    return *intent ? CertStatus::kRevoked : CertStatus::kUnknown;
  });
}

Result<int> SqlStore::RevokeSerial(std::string_view serial_hex, int reason,
                                   std::string_view revoked_at) {
  return Use<int>(
      [&](SqlSession& db) { return Revoke(db, kRevokeSerial, serial_hex, reason, revoked_at); });
}

Result<int> SqlStore::RevokeDevice(std::string_view device_id, int reason,
                                   std::string_view revoked_at) {
  return Use<int>(
      [&](SqlSession& db) { return Revoke(db, kRevokeDevice, device_id, reason, revoked_at); });
}

Result<int> SqlStore::RevokeRecorded(RevokeBy by, std::string_view key, int reason,
                                     std::string_view revoked_at,
                                     const AdminEventFor& admin_event) {
  const auto& sql = by == RevokeBy::kSerial ? kRevokeSerial : kRevokeDevice;
  return Use<int>(
      [&](SqlSession& db) { return Revoke(db, sql, key, reason, revoked_at, admin_event); });
}

Result<void> SqlStore::DenyBootstrapRecorded(const DenyEntry& entry,
                                             const EventRecord& admin_event) {
  return WithSession([&](SqlSession& db) {
    return db.InWrite([&]() -> Result<void> {
      auto id = SelectInt(db, kInsertDeny,
                          SqlParams()
                              .TextOrNull(entry.fingerprint)
                              .TextOrNull(entry.issuer)
                              .TextOrNull(entry.serial_hex)
                              .Text(entry.reason)
                              .Text(entry.added_at));
      if (!id) return std::unexpected(id.error());
      if (!*id) return base::Fail(Code::kInternal, "DenyBootstrap: INSERT returned no id");
      if (auto r = db.AppendEvent(DeniedStateEvent(**id, entry), ""); !r) return r;
      return RecordEventInTxn(db, admin_event);
    });
  });
}

Result<bool> BootstrapDenied(SqlSession& db, std::string_view fingerprint, std::string_view issuer,
                             std::string_view serial_hex) {
  // Bound as text even when empty: '' equals no stored value (NULL or a CHECKed non-empty one).
  return SelectTruth(db, kIsDenied, SqlParams().Text(fingerprint).Text(issuer).Text(serial_hex));
}

Result<bool> SqlStore::IsBootstrapDenied(std::string_view fingerprint, std::string_view issuer,
                                         std::string_view serial_hex) {
  return Use<bool>(
      [&](SqlSession& db) { return BootstrapDenied(db, fingerprint, issuer, serial_hex); });
}

Result<std::vector<DenyEntry>> SqlStore::ListDenied() {
  return Use<std::vector<DenyEntry>>([&](SqlSession& db) -> Result<std::vector<DenyEntry>> {
    std::vector<DenyEntry> entries;
    auto done = db.Query(kSelectDenied, {}, [&](const RowView& row) {
      entries.push_back(DenyEntry{.fingerprint = row.Text(0),  // NULL reads as ""
                                  .issuer = row.Text(1),
                                  .serial_hex = row.Text(2),
                                  .reason = row.Text(3),
                                  .added_at = row.Text(4)});
    });
    if (!done) return std::unexpected(done.error());
    return entries;
  });
}

Result<std::vector<CertificateRecord>> SqlStore::RevokedUnexpired(std::string_view now_iso) {
  using Records = std::vector<CertificateRecord>;
  return Use<Records>([&](SqlSession& db) -> Result<Records> {
    auto certificates = SelectCertificates(db, kSelectRevokedUnexpired, SqlParams().Text(now_iso));
    if (!certificates) return certificates;
    Records intents;
    auto done = db.Query(kSelectRevokedIntents, SqlParams().Text(now_iso),
                         [&](const RowView& row) { intents.push_back(RevokedIntentRecord(row)); });
    if (!done) return std::unexpected(done.error());
    // Both sorted by not_after; std::merge takes certificates first on equal keys.
    Records merged;
    merged.reserve(certificates->size() + intents.size());
    std::merge(std::make_move_iterator(certificates->begin()),
               std::make_move_iterator(certificates->end()),
               std::make_move_iterator(intents.begin()), std::make_move_iterator(intents.end()),
               std::back_inserter(merged),
               [](const CertificateRecord& a, const CertificateRecord& b) {
                 return a.not_after < b.not_after;
               });
    return merged;
  });
}

Result<int64_t> SqlStore::NextCrlNumber() {
  return Use<int64_t>([&](SqlSession& db) -> Result<int64_t> {
    std::optional<int64_t> number;
    auto done = db.InWrite([&]() -> Result<void> {
      auto next = SelectInt(db, kNextCrlNumber, {});
      if (!next) return std::unexpected(next.error());
      number = *next;
      return {};
    });
    if (!done) return std::unexpected(done.error());
    // The migration inserts the row and nothing of ours deletes it.
    if (!number) return base::Fail(Code::kCorrupt, "crl_state: the row with id 1 is missing");
    return *number;
  });
}

Result<std::vector<CertificateRecord>> SqlStore::ListCertificates(const ListFilter& filter) {
  // A caller asking for <= 0 rows gets none (SQLite would read a negative LIMIT as "no limit").
  if (filter.limit <= 0) return std::vector<CertificateRecord>();
  // Only our own fixed fragments are joined into the SQL (so each query can use its index rather
  // than "$1 IS NULL OR ..."); every value is bound, numbered in the order it is added.
  // revoked_only together with expiring_before_iso matches nothing: the conditions exclude each
  // other.
  std::string sql = PROVISIOND_CERT_SELECT "WHERE 1 = 1";
  SqlParams params;
  auto next = [&params] { return "$" + std::to_string(params.values().size() + 1); };
  if (filter.device_id) {
    sql += " AND device_id = " + next();
    params.Text(*filter.device_id);
  }
  if (filter.revoked_only) sql += " AND revoked_at IS NOT NULL";
  if (filter.expiring_before_iso) {
    sql += " AND revoked_at IS NULL AND not_after < " + next();
    params.Text(*filter.expiring_before_iso);
  }
  // "+id" for the revoked and expiring lists: ordered by the rowid, SQLite would walk the whole
  // table in id order to find the few rows they want; this way it reads the partial index
  // (certificates_revoked_not_after / _unrevoked_not_after) and sorts what it found.
  const bool partial = filter.revoked_only || filter.expiring_before_iso.has_value();
  sql += partial ? " ORDER BY +id LIMIT " : " ORDER BY id LIMIT ";
  sql += next();
  params.Int(filter.limit);
  using Records = std::vector<CertificateRecord>;
  return Use<Records>([&](SqlSession& db) { return SelectCertificates(db, sql.c_str(), params); });
}

Result<std::optional<CertificateRecord>> SqlStore::FindBySerial(std::string_view serial_hex) {
  using Found = std::optional<CertificateRecord>;
  return Use<Found>([&](SqlSession& db) -> Result<Found> {
    auto certs = SelectCertificates(db, kSelectBySerial, SqlParams().Text(serial_hex));
    if (!certs) return std::unexpected(certs.error());
    if (certs->empty()) return Found();
    return std::move(certs->front());
  });
}

Result<std::vector<CertificateRecord>> SqlStore::FindByDevice(std::string_view device_id) {
  using Records = std::vector<CertificateRecord>;
  return Use<Records>([&](SqlSession& db) {
    return SelectCertificates(db, kSelectByDevice, SqlParams().Text(device_id));
  });
}

Result<std::vector<EventRecord>> SqlStore::RecentEvents(int limit) {
  using Events = std::vector<EventRecord>;
  // SQLite reads a negative LIMIT as "no limit"; a caller asking for <= 0 rows gets none.
  if (limit <= 0) return Events();
  return Use<Events>([&](SqlSession& db) -> Result<Events> {
    Events events;
    auto done = db.Query(kSelectRecentEvents, SqlParams().Int(limit),
                         [&](const RowView& row) { events.push_back(ReadEvent(row)); });
    if (!done) return std::unexpected(done.error());
    return events;
  });
}

Result<int64_t> SqlStore::RevocationCount() {
  return Use<int64_t>([&](SqlSession& db) -> Result<int64_t> {
    auto count = SelectInt(db, kRevocationCount, {});
    if (!count) return std::unexpected(count.error());
    return count->value_or(0);
  });
}

Result<int64_t> SqlStore::CountCertificates() {
  return Use<int64_t>([&](SqlSession& db) -> Result<int64_t> {
    auto count = SelectInt(db, kCountCertificates, {});
    if (!count) return std::unexpected(count.error());
    return count->value_or(0);
  });
}

}  // namespace db
