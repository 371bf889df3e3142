// audit_state.cc — state events in the enrollment_events chain: the migration 4 backfill and the
// cross-check of the state tables against the chain (audit_state.h); their canonical text is
// audit_state_text.cc's.
#include "db/audit_state.h"

#include <optional>
#include <span>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "ca/encoding.h"
#include "db/audit.h"
#include "db/audit_tidy.h"
#include "db/ca_generation_state.h"
#include "db/manifest_state.h"
#include "db/row_read.h"

namespace db {
namespace {

constexpr const char* kSelectStateEvents =
    "SELECT id, outcome, reason FROM enrollment_events WHERE endpoint = 'state' ORDER BY id";
// An issued intent keeps the SHA-256 of its TBS instead of the TBS (schema version 5); before
// version 5 (migration 4's backfill) every intent has its TBS.
#define PROVISIOND_STATE_INTENT_COLUMNS                                                          \
  "SELECT serial, device_id, tbs, revoked_at, revocation_reason, created_at, peer, kind, "      \
  "public_key_sha256, auth_cert_fingerprint, profile, "
constexpr const char* kSelectIntents =
    PROVISIOND_STATE_INTENT_COLUMNS "tbs_sha256 FROM issuance_intents ORDER BY rowid";
constexpr const char* kSelectIntentsV4 =
    PROVISIOND_STATE_INTENT_COLUMNS "NULL FROM issuance_intents ORDER BY rowid";
#undef PROVISIOND_STATE_INTENT_COLUMNS
// An issued intent leaves no row (schema version 6): its certificate, written by Complete from it,
// carries what its state event records (device, kind, key, authenticating certificate, profile)
// and tbs_sha256. Certificates from before intents (schema version 2) have no tbs_sha256.
constexpr const char* kSelectCertificateIntents =
    "SELECT serial, device_id, kind, public_key_sha256, auth_cert_fingerprint, profile, "
    "tbs_sha256 FROM certificates WHERE tbs_sha256 IS NOT NULL ORDER BY id";
// What the state events cannot show: a certificate from before intents given a profile, a serial
// both issued and pending, an intent row in a state only older versions wrote.
constexpr const char* kSelectCertificateNotAsIntent =
    "SELECT 'certificate ' || serial FROM certificates WHERE tbs_sha256 IS NULL AND profile <> '' "
    "UNION ALL SELECT 'certificate ' || c.serial FROM issuance_intents i "
    "JOIN certificates c ON c.serial = i.serial "
    "UNION ALL SELECT 'intent ' || serial FROM issuance_intents WHERE status <> 'pending' LIMIT 1";
constexpr const char* kSelectRevokedCertificates =
    "SELECT serial, device_id, revoked_at, revocation_reason FROM certificates "
    "WHERE revoked_at IS NOT NULL ORDER BY id";
constexpr const char* kSelectDenied =
    "SELECT id, fingerprint, issuer, serial, reason, added_at FROM bootstrap_denylist ORDER BY id";
// Schema version 7 (db/schema_grants.h); not part of migration 4's backfill.
constexpr const char* kSelectGrants =
    "SELECT id, device_id, reason, granted_at, expires_at, revoke_previous, spent_at, "
    "spent_serial FROM rebootstrap_grants ORDER BY id";
constexpr const char* kSelectBlocks =
    "SELECT id, device_id, reason, blocked_at, lifted_at, lift_reason FROM device_blocks "
    "ORDER BY id";

std::string OptionalIntText(const RowView& stmt, int column) {
  return stmt.IsNull(column) ? "" : std::to_string(stmt.Int(column));
}

// A state row as the chain should record it, and how to name the row in a report. An intent's
// may be recorded in its compact form (CompactIntentStateEvent) instead: compact_reason.
struct StateRow {
  EventRecord event;
  std::string row_name;
  std::string compact_reason;
};

StateRow IntentRow(const Intent& intent, std::string_view tbs_sha256, std::string row_name) {
  EventRecord event = IntentStateEvent(intent, tbs_sha256);
  std::string compact = CompactIntentReason(intent.serial_hex, event.reason);
  return {std::move(event), std::move(row_name), std::move(compact)};
}

// Steps `sql` (no parameters) to the end, appending what `read` makes of each row.
template <typename Read>
Result<void> Collect(const RowQuery& query, const char* sql, std::vector<StateRow>& out,
                     Read&& read) {
  return query(sql, [&](const RowView& row) { read(row, out); });
}

// Every state the tables hold now, as the events that should record it; `intents_sql` is
// kSelectIntents, or kSelectIntentsV4 on a file not yet at schema version 5, and
// `certificate_intents_sql` kSelectCertificateIntents, or nullptr before schema version 6.
Result<std::vector<StateRow>> CurrentState(const RowQuery& db, const char* intents_sql,
                                           const char* certificate_intents_sql) {
  std::vector<StateRow> rows;
  auto intents = Collect(db, intents_sql, rows, [](const RowView& s, auto& out) {
    Intent intent{.serial_hex = s.Text(0),
                  .device_id = s.Text(1),
                  .kind = s.Text(7),
                  .public_key_sha256 = Sha256Column(s, 8),
                  .auth_cert_fingerprint = Sha256Column(s, 9),
                  .tbs = s.Blob(2),
                  .peer = s.Text(6),
                  .created_at = s.Text(5),
                  .profile = s.Text(10)};
    // A pending intent's hash is computed from the TBS it holds (an edited TBS shows); an issued
    // one's is the hash Complete stored when it set the TBS aside.
    const std::string tbs_sha256 = s.IsNull(2) ? Sha256Column(s, 11) : ca::Sha256Hex(intent.tbs);
    out.push_back(IntentRow(intent, tbs_sha256, "intent " + intent.serial_hex));
    if (s.IsNull(3)) return;
    out.push_back(
        {RevokedStateEvent(intent.serial_hex, intent.device_id, s.Text(3), OptionalIntText(s, 4)),
         "intent " + intent.serial_hex + " (revoked_at " + s.Text(3) + ")",
         {}});
  });
  if (!intents) return std::unexpected(intents.error());
  if (certificate_intents_sql != nullptr) {
    auto issued = Collect(db, certificate_intents_sql, rows, [](const RowView& s, auto& out) {
      Intent intent{.serial_hex = s.Text(0),
                    .device_id = s.Text(1),
                    .kind = s.Text(2),
                    .public_key_sha256 = Sha256Column(s, 3),
                    .auth_cert_fingerprint = Sha256Column(s, 4),
                    .profile = s.Text(5)};
      out.push_back(IntentRow(intent, Sha256Column(s, 6), "certificate " + intent.serial_hex));
    });
    if (!issued) return std::unexpected(issued.error());
  }
  auto revoked = Collect(db, kSelectRevokedCertificates, rows, [](const RowView& s, auto& out) {
    out.push_back({RevokedStateEvent(s.Text(0), s.Text(1), s.Text(2), OptionalIntText(s, 3)),
                   "certificate " + s.Text(0) + " (revoked_at " + s.Text(2) + ")",
                   {}});
  });
  if (!revoked) return std::unexpected(revoked.error());
  auto denied = Collect(db, kSelectDenied, rows, [](const RowView& s, auto& out) {
    DenyEntry entry{.fingerprint = s.Text(1),
                    .issuer = s.Text(2),
                    .serial_hex = s.Text(3),
                    .reason = s.Text(4),
                    .added_at = s.Text(5)};
    out.push_back({DeniedStateEvent(s.Int(0), entry), "denylist row " + s.Text(0), {}});
  });
  if (!denied) return std::unexpected(denied.error());
  auto blocks = Collect(db, kSelectBlocks, rows, [](const RowView& s, auto& out) {
    DeviceBlock block{
        .id = s.Int(0), .device_id = s.Text(1), .reason = s.Text(2), .blocked_at = s.Text(3)};
    const std::string name = "block " + s.Text(0) + " (device " + block.device_id + ")";
    out.push_back({BlockedStateEvent(block), name, {}});
    if (s.IsNull(4) && s.IsNull(5)) return;
    block.lifted_at = s.Text(4);
    block.lift_reason = s.Text(5);
    out.push_back({UnblockedStateEvent(block), name + " lifted", {}});
  });
  if (!blocks) return std::unexpected(blocks.error());
  return rows;
}

// Each re-bootstrap grant as its "rebootstrap_granted" event, and a spent one's "rebootstrap_spent".
Result<void> CollectGrants(const RowQuery& db, std::vector<StateRow>& rows) {
  return Collect(db, kSelectGrants, rows, [](const RowView& s, auto& out) {
    RebootstrapGrant grant{.id = s.Int(0),
                           .device_id = s.Text(1),
                           .reason = s.Text(2),
                           .granted_at = s.Text(3),
                           .expires_at = s.Text(4),
                           .revoke_previous = s.Int(5) != 0};
    const std::string name = "rebootstrap grant " + s.Text(0) + " (device " + grant.device_id + ")";
    out.push_back({GrantedStateEvent(grant), name});
    if (s.IsNull(6) && s.IsNull(7)) return;
    grant.spent_at = s.Text(6);
    grant.spent_serial = s.Text(7);
    out.push_back({SpentStateEvent(grant), name + " spent"});
  });
}

std::string StateKey(std::string_view outcome, std::string_view reason) {
  return std::string(outcome) + ' ' + std::string(reason);
}

void Report(AuditReport& report, std::string problem, std::optional<int64_t> event_id) {
  report.ok = false;
  report.problem = std::move(problem);
  report.first_bad_id = event_id;
}

}  // namespace

Result<void> BackfillStateEvents(sqlite3* db) {
  auto rows = CurrentState(QueryRows(db), kSelectIntentsV4, nullptr);
  if (!rows) return std::unexpected(rows.error());
  for (const StateRow& row : *rows) {
    if (auto r = InsertChainedEvent(db, row.event, ""); !r) return r;
  }
  return {};
}

namespace {

// Every state row the tables hold now (CurrentState, grants, manifests, tombstones, CA
// generations). ca_problem: what CaGenerationState found wrong with the generations themselves.
Result<std::vector<StateRow>> AllStateRows(const RowQuery& query, std::string* ca_problem) {
  auto rows = CurrentState(query, kSelectIntents, kSelectCertificateIntents);
  if (!rows) return rows;
  if (auto grants = CollectGrants(query, *rows); !grants) return std::unexpected(grants.error());
  // Factory manifests (schema versions with manifest_batches only; not part of CurrentState,
  // which migration 4's backfill also runs, before those tables existed), and tidy's tombstones.
  auto manifests = ManifestState(query);
  if (!manifests) return std::unexpected(manifests.error());
  if (auto t = TombstoneState(query, *manifests); !t) return std::unexpected(t.error());
  for (auto& [event, name] : *manifests) rows->push_back({std::move(event), std::move(name)});
  auto generations = CaGenerationState(query, ca_problem);  // ca_generation_state.h
  if (!generations) return std::unexpected(generations.error());
  for (auto& [event, name] : *generations) rows->push_back({std::move(event), std::move(name)});
  return rows;
}

}  // namespace

Result<std::unordered_set<std::string>> LiveStateKeys(const RowQuery& query) {
  std::string ca_problem;  // reported by audit verify, not here
  auto rows = AllStateRows(query, &ca_problem);
  if (!rows) return std::unexpected(rows.error());
  std::unordered_set<std::string> keys;
  for (const StateRow& state : *rows) {
    keys.insert(StateKey(state.event.outcome, state.event.reason));
    if (!state.compact_reason.empty()) {
      keys.insert(StateKey(state.event.outcome, state.compact_reason));
    }
  }
  return keys;
}

Result<void> VerifyStateAgainstChain(const RowQuery& query, AuditReport& report) {
  if (!report.ok) return {};
  std::unordered_map<std::string, int64_t> recorded;  // key -> the first event with it
  auto events = query(kSelectStateEvents, [&](const RowView& row) {
    recorded.try_emplace(StateKey(row.Text(1), row.Text(2)), row.Int(0));
  });
  if (!events) return std::unexpected(events.error());
  ForgetTidied(recorded);  // removed rows' events (db/audit_tidy.h)
  std::string ca_problem;
  auto rows = AllStateRows(query, &ca_problem);
  if (!rows) return std::unexpected(rows.error());
  if (!ca_problem.empty()) {
    Report(report, ca_problem, std::nullopt);
    return {};
  }
  for (const StateRow& state : *rows) {
    auto found = recorded.find(StateKey(state.event.outcome, state.event.reason));
    if (found == recorded.end() && !state.compact_reason.empty()) {
      found = recorded.find(StateKey(state.event.outcome, state.compact_reason));
    }
    if (found == recorded.end()) {
      Report(report,
             state.row_name + " differs from the audit chain (no '" + state.event.outcome +
                 "' event records " + state.event.reason + ")",
             std::nullopt);
      return {};
    }
    recorded.erase(found);
  }
  std::optional<std::string> mismatch;
  auto checked = query(kSelectCertificateNotAsIntent, [&](const RowView& row) {
    if (!mismatch) mismatch = row.Text(0);
  });
  if (!checked) return std::unexpected(checked.error());
  if (mismatch) {
    Report(report,
           *mismatch + " differs from the audit chain (a certificate with a profile but no "
                       "chained intent, a serial both issued and pending, or an intent that "
                       "is not pending)",
           std::nullopt);
    return {};
  }
  // What is left was recorded but matches no row as it is now: changed or deleted since.
  std::optional<std::pair<int64_t, std::string>> first;
  for (const auto& [key, id] : recorded) {
    if (!first || id < first->first) first.emplace(id, key);
  }
  if (first) {
    Report(report,
           "audit event " + std::to_string(first->first) + " (" + first->second +
               ") matches no row: the row was changed or deleted",
           first->first);
  }
  return {};
}

}  // namespace db
