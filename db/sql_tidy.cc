// sql_tidy.cc — SqlStore's retention methods (store.h, "Retention"), once for both engines: the
// CRL's expiry bound, the rows tidy may remove and their removal with tombstones and state
// events, and the audit chain's carry and truncation (db/audit_tidy.h says how it stays whole).
#include <algorithm>
#include <string>
#include <unordered_set>

#include "db/audit.h"
#include "db/audit_state.h"
#include "db/audit_tidy.h"
#include "db/row_read.h"
#include "db/sql_store.h"

namespace db {
namespace {

constexpr const char* kNoteCrl =
    "UPDATE crl_state SET dropped_before = $1 WHERE id = 1 "
    "AND (dropped_before IS NULL OR dropped_before < $1)";
constexpr const char* kSelectDroppedBefore = "SELECT dropped_before FROM crl_state WHERE id = 1";
// Served by the partial indexes certificates_unrevoked_not_after / _revoked_not_after.
constexpr const char* kTidyUnrevoked = PROVISIOND_CERT_SELECT
    "WHERE revoked_at IS NULL AND not_after < $1 ORDER BY not_after LIMIT $2";
constexpr const char* kTidyRevoked = PROVISIOND_CERT_SELECT
    "WHERE revoked_at IS NOT NULL AND not_after < $1 ORDER BY not_after LIMIT $2";
// Pending intents are few (issuance_intents_pending).
constexpr const char* kTidyIntents = PROVISIOND_INTENT_SELECT
    "WHERE status = 'pending' AND ((revoked_at IS NULL AND not_after < $1) OR "
    "(revoked_at IS NOT NULL AND not_after < $2)) ORDER BY created_at LIMIT $3";
// The bounds checked again where the row goes (certificates.serial UNIQUE, intents' primary key).
constexpr const char* kDeleteCertificate =
    "DELETE FROM certificates WHERE serial = $1 AND ((revoked_at IS NULL AND not_after < $2) OR "
    "(revoked_at IS NOT NULL AND not_after < $3)) "
    "RETURNING serial, device_id, kind, auth_cert_fingerprint, not_after";
constexpr const char* kDeleteIntent =
    "DELETE FROM issuance_intents WHERE serial = $1 AND status = 'pending' AND "
    "((revoked_at IS NULL AND not_after < $2) OR (revoked_at IS NOT NULL AND not_after < $3)) "
    "RETURNING serial, device_id, kind, auth_cert_fingerprint, not_after";
constexpr const char* kInsertTombstone =
    "INSERT INTO enroll_tombstones (serial, device_id, auth_cert_fingerprint, not_after) "
    "VALUES ($1, $2, $3, $4)";
// The primary key's range from the base on: it reads just the rows below the cut.
constexpr const char* kFirstAtOrAfter =
    "SELECT id FROM enrollment_events WHERE id >= $1 AND time >= $2 ORDER BY id LIMIT 1";
constexpr const char* kStateFrom =
    "SELECT outcome, reason FROM enrollment_events WHERE id >= $1 AND endpoint = 'state'";
constexpr const char* kStateBelow =
    "SELECT time, device_id, outcome, reason FROM enrollment_events "
    "WHERE id >= $1 AND id < $2 AND endpoint = 'state' ORDER BY id";
constexpr const char* kRowExistsFrom =
    "SELECT EXISTS (SELECT 1 FROM enrollment_events WHERE id >= $1)";
// The row's hash is bytes (audit.h, ChainHashHex); audit_chain_base keeps it as hex text.
constexpr const char* kRowHash = "SELECT row_hash FROM enrollment_events WHERE id = $1";
constexpr const char* kDeleteBelow =
    "DELETE FROM enrollment_events WHERE id >= $1 AND id < $2";
constexpr const char* kSetBase =
    "INSERT INTO audit_chain_base (id, first_id, prev_hash, checkpoint) VALUES (1, $1, $2, $3) "
    "ON CONFLICT (id) DO UPDATE SET first_id = excluded.first_id, "
    "prev_hash = excluded.prev_hash, checkpoint = excluded.checkpoint";

RowQuery SessionRows(SqlSession& db) {
  return [&db](const char* sql, const RowVisitor& visit) { return db.Query(sql, {}, visit); };
}

// Deletes each serial by `sql` (kDeleteCertificate / kDeleteIntent) in one transaction, with a
// tombstone and "tombstoned" event for an enrollment, a "tidied" event for anything else.
Result<int> RemoveRows(SqlSession& db, const char* sql, const std::vector<std::string>& serials,
                       const TidyBounds& b) {
  int removed = 0;
  auto done = db.InWrite([&]() -> Result<void> {
    removed = 0;
    for (const std::string& serial : serials) {
      struct Gone {
        std::string serial, device_id, kind, fingerprint, not_after;
      };
      std::vector<Gone> gone;
      auto ran = db.Query(sql, SqlParams().Text(serial).Text(b.expired_before).Text(b.revoked_before),
                          [&](const RowView& r) {
                            gone.push_back({r.Text(0), r.Text(1), r.Text(2), Sha256Column(r, 3), r.Text(4)});
                          });
      if (!ran) return ran;
      for (const Gone& g : gone) {
        EventRecord event;
        if (g.kind == "enroll") {
          auto kept = db.Query(kInsertTombstone,
                               SqlParams().Text(g.serial).Text(g.device_id).Sha256(g.fingerprint)
                                   .Text(g.not_after), {});
          if (!kept) return kept;
          event = TombstonedStateEvent(g.serial, g.device_id, g.fingerprint, g.not_after,
                                       b.tidied_at);
        } else {
          event = TidiedStateEvent(g.serial, g.device_id, g.not_after, b.tidied_at);
        }
        if (auto appended = db.AppendEvent(event, ""); !appended) return appended;
        ++removed;
      }
    }
    return {};
  });
  if (!done) return std::unexpected(done.error());
  return removed;
}

}  // namespace

Result<void> SqlStore::NoteCrlBuilt(std::string_view dropped_before) {
  return WithSession([&](SqlSession& db) {
    return db.InWrite([&] { return db.Query(kNoteCrl, SqlParams().Text(dropped_before), {}); });
  });
}

Result<std::optional<std::string>> SqlStore::CrlDroppedBefore() {
  using Bound = std::optional<std::string>;
  return Use<Bound>([&](SqlSession& db) -> Result<Bound> {
    Bound bound;
    auto done = db.Query(kSelectDroppedBefore, {}, [&](const RowView& row) {
      if (!row.IsNull(0)) bound = row.Text(0);
    });
    if (!done) return std::unexpected(done.error());
    return bound;
  });
}

Result<std::vector<CertificateRecord>> SqlStore::TidyCertificates(const TidyBounds& b, int limit) {
  using Records = std::vector<CertificateRecord>;
  return Use<Records>([&](SqlSession& db) -> Result<Records> {
    Records out;
    auto read = [&](const RowView& row) { out.push_back(ReadCertificate(row)); };
    auto a = db.Query(kTidyUnrevoked, SqlParams().Text(b.expired_before).Int(limit), read);
    if (!a) return std::unexpected(a.error());
    auto r = db.Query(kTidyRevoked, SqlParams().Text(b.revoked_before).Int(limit), read);
    if (!r) return std::unexpected(r.error());
    return out;
  });
}

Result<std::vector<Intent>> SqlStore::TidyIntents(const TidyBounds& b, int limit) {
  using Intents = std::vector<Intent>;
  return Use<Intents>([&](SqlSession& db) -> Result<Intents> {
    Intents out;
    auto done = db.Query(kTidyIntents,
                         SqlParams().Text(b.expired_before).Text(b.revoked_before).Int(limit),
                         [&](const RowView& row) { out.push_back(ReadIntent(row)); });
    if (!done) return std::unexpected(done.error());
    return out;
  });
}

Result<int> SqlStore::RemoveCertificates(const std::vector<std::string>& serials,
                                         const TidyBounds& bounds) {
  std::optional<int> removed;
  auto done = WithTidySession([&](SqlSession& db) -> Result<void> {
    auto n = RemoveRows(db, kDeleteCertificate, serials, bounds);
    if (!n) return std::unexpected(n.error());
    removed = *n;
    return {};
  });
  if (!done) return std::unexpected(done.error());
  return *removed;
}

Result<int> SqlStore::RemoveIntents(const std::vector<std::string>& serials,
                                    const TidyBounds& bounds) {
  return Use<int>([&](SqlSession& db) { return RemoveRows(db, kDeleteIntent, serials, bounds); });
}

Result<ChainBase> SqlStore::AuditChainBase() {
  return Use<ChainBase>([&](SqlSession& db) { return ReadChainBase(SessionRows(db)); });
}

Result<int64_t> SqlStore::ChainCut(std::string_view events_before, int64_t max_id) {
  return Use<int64_t>([&](SqlSession& db) -> Result<int64_t> {
    auto base = ReadChainBase(SessionRows(db));
    if (!base) return std::unexpected(base.error());
    auto first = SelectInt(db, kFirstAtOrAfter, SqlParams().Int(base->first_id).Text(events_before));
    if (!first) return std::unexpected(first.error());
    return std::max(base->first_id, std::min(first->value_or(max_id), max_id));
  });
}

Result<std::vector<ChainRow>> SqlStore::ChainRows(int64_t from_id, int64_t before_id, int limit) {
  return Use<std::vector<ChainRow>>([&](SqlSession& db) -> Result<std::vector<ChainRow>> {
    auto base = ReadChainBase(SessionRows(db));
    if (!base) return std::unexpected(base.error());
    return SelectChainRows(db, from_id, before_id, limit, *base);
  });
}

Result<int64_t> SqlStore::CarryLiveState(int64_t cut_id, int batch) {
  std::vector<EventRecord> carry;
  auto read = WithSession([&](SqlSession& db) -> Result<void> {
    auto base = ReadChainBase(SessionRows(db));
    if (!base) return std::unexpected(base.error());
    auto live = LiveStateKeys(SessionRows(db));
    if (!live) return std::unexpected(live.error());
    std::unordered_set<std::string> kept;  // recorded from the cut on, or carried already
    auto above = db.Query(kStateFrom, SqlParams().Int(cut_id), [&](const RowView& row) {
      kept.insert(row.Text(0) + ' ' + row.Text(1));
    });
    if (!above) return above;
    return db.Query(kStateBelow, SqlParams().Int(base->first_id).Int(cut_id),
                    [&](const RowView& row) {
                      std::string key = row.Text(2) + ' ' + row.Text(3);
                      if (!live->contains(key) || !kept.insert(std::move(key)).second) return;
                      carry.push_back(EventRecord{.time = row.Text(0), .peer = "tidy",
                                                  .device_id = row.Text(1), .endpoint = "state",
                                                  .outcome = row.Text(2), .reason = row.Text(3)});
                    });
  });
  if (!read) return std::unexpected(read.error());
  const size_t step = static_cast<size_t>(std::max(batch, 1));
  for (size_t at = 0; at < carry.size(); at += step) {
    auto wrote = WithSession([&](SqlSession& db) {
      return db.InWrite([&]() -> Result<void> {
        for (size_t i = at; i < std::min(carry.size(), at + step); ++i) {
          if (auto r = db.AppendEvent(carry[i], ""); !r) return r;
        }
        return {};
      });
    });
    if (!wrote) return std::unexpected(wrote.error());
  }
  return static_cast<int64_t>(carry.size());
}

Result<int> SqlStore::TruncateChain(int64_t cut_id, std::string_view checkpoint, int limit) {
  return Use<int>([&](SqlSession& db) -> Result<int> {
    int removed = 0;
    auto done = db.InWrite([&]() -> Result<void> {
      auto base = ReadChainBase(SessionRows(db));
      if (!base) return std::unexpected(base.error());
      if (base->first_id >= cut_id) return {};
      auto kept = SelectTruth(db, kRowExistsFrom, SqlParams().Int(cut_id));
      if (!kept) return std::unexpected(kept.error());
      if (!*kept) return base::Fail(Code::kConstraint, "TruncateChain: no row at or above the cut");
      const int64_t upto = std::min(cut_id, base->first_id + std::max(limit, 1));
      std::optional<std::string> prev;
      auto read = db.Query(kRowHash, SqlParams().Int(upto - 1),
                           [&](const RowView& row) { prev = ChainHashHex(row, 0); });
      if (!read) return read;
      if (!prev) return base::Fail(Code::kCorrupt, "TruncateChain: row below the cut is gone");
      auto gone = db.Query(kDeleteBelow, SqlParams().Int(base->first_id).Int(upto), {});
      if (!gone) return gone;
      removed = static_cast<int>(upto - base->first_id);
      return db.Query(kSetBase, SqlParams().Int(upto).Text(*prev).Text(checkpoint), {});
    });
    if (!done) return std::unexpected(done.error());
    return removed;
  });
}

}  // namespace db
