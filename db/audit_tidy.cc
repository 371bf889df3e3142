// audit_tidy.cc — retention's state events and their reading by the state cross-check, the base
// of a truncated chain, and the check of archived chain rows (audit_tidy.h, tidy_records.h).
#include "db/audit_tidy.h"

#include <optional>
#include <unordered_set>

#include "db/audit.h"
#include "db/audit_state.h"
#include "db/row_read.h"

namespace db {
namespace {

constexpr const char* kSelectTombstones =
    "SELECT serial, device_id, auth_cert_fingerprint, not_after FROM enroll_tombstones "
    "ORDER BY serial";
constexpr const char* kSelectBase =
    "SELECT first_id, prev_hash, checkpoint FROM audit_chain_base WHERE id = 1";

EventRecord StateEvent(std::string_view time, std::string_view device_id,
                       std::string_view outcome, std::string reason) {
  return EventRecord{.time = std::string(time),
                     .peer = "local",
                     .presented_fingerprint = {},
                     .presented_subject = {},
                     .device_id = std::string(device_id),
                     .endpoint = "state",
                     .outcome = std::string(outcome),
                     .http_status = 0,
                     .reason = std::move(reason),
                     .serial_hex = {}};
}

// The serial of a state event's reason that starts with serial="S" (every intent, revoked,
// tidied and tombstoned event does); nullopt for any other.
std::optional<std::string_view> LeadingSerial(std::string_view reason) {
  constexpr std::string_view kPrefix = "serial=\"";
  if (reason.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  const size_t end = reason.find('"', kPrefix.size());
  if (end == std::string_view::npos) return std::nullopt;
  return reason.substr(kPrefix.size(), end - kPrefix.size());
}

}  // namespace

EventRecord TidiedStateEvent(std::string_view serial_hex, std::string_view device_id,
                             std::string_view not_after, std::string_view tidied_at) {
  std::string text;
  AppendValue(text, "serial", serial_hex);
  AppendValue(text, "not_after", not_after);
  return StateEvent(tidied_at, device_id, "tidied", std::move(text));
}

EventRecord TombstonedStateEvent(std::string_view serial_hex, std::string_view device_id,
                                 std::string_view auth_cert_fingerprint,
                                 std::string_view not_after, std::string_view tidied_at) {
  std::string text;
  AppendValue(text, "serial", serial_hex);
  AppendValue(text, "not_after", not_after);
  AppendValue(text, "device_id", device_id);
  AppendValue(text, "auth_cert_fingerprint", auth_cert_fingerprint);
  return StateEvent(tidied_at, device_id, "tombstoned", std::move(text));
}

void ForgetTidied(std::unordered_map<std::string, int64_t>& recorded) {
  std::unordered_set<std::string> removed;
  for (auto it = recorded.begin(); it != recorded.end();) {
    const std::string_view key = it->first;
    const size_t space = key.find(' ');
    const std::string_view outcome = key.substr(0, space);
    if (outcome == "tidied" || outcome == "tombstoned") {
      if (auto serial = LeadingSerial(key.substr(space + 1))) removed.emplace(*serial);
    }
    it = outcome == "tidied" ? recorded.erase(it) : std::next(it);
  }
  if (removed.empty()) return;
  for (auto it = recorded.begin(); it != recorded.end();) {
    const std::string_view key = it->first;
    const size_t space = key.find(' ');
    const std::string_view outcome = key.substr(0, space);
    auto serial = LeadingSerial(key.substr(space + 1));
    const bool gone = (outcome == "intent" || outcome == "revoked") && serial &&
                      removed.contains(std::string(*serial));
    it = gone ? recorded.erase(it) : std::next(it);
  }
}

Result<void> TombstoneState(const RowQuery& query,
                            std::vector<std::pair<EventRecord, std::string>>& out) {
  return query(kSelectTombstones, [&](const RowView& row) {
    out.emplace_back(TombstonedStateEvent(row.Text(0), row.Text(1), Sha256Column(row, 2), row.Text(3), ""),
                     "enroll tombstone " + row.Text(0));
  });
}

Result<ChainBase> ReadChainBase(const RowQuery& query) {
  ChainBase base;
  auto done = query(kSelectBase, [&](const RowView& row) {
    base.first_id = row.Int(0);
    base.prev_hash = row.Text(1);
    base.checkpoint = row.Text(2);
  });
  if (!done) return std::unexpected(done.error());
  if (base.prev_hash.empty()) base.prev_hash = std::string(kGenesisHash);
  return base;
}

AuditReport VerifyArchivedChain(const std::vector<ChainRow>& rows, const ChainBase& base) {
  AuditReport report{.ok = true, .rows_checked = 0, .first_bad_id = {}, .problem = {},
                     .head_hash = base.prev_hash.empty() ? std::string(kGenesisHash)
                                                         : base.prev_hash};
  int64_t expected_id = base.first_id;
  for (const ChainRow& row : rows) {
    ++report.rows_checked;
    std::string problem;
    const std::string id = std::to_string(row.id);
    if (row.id != expected_id) {
      problem = "row " + id + " where row " + std::to_string(expected_id) + " belongs";
    } else if (EventRowHash(row.id, row.event, row.serial, row.prev_hash) != row.row_hash) {
      problem = "row " + id + " was altered (hash mismatch)";
    } else if (row.prev_hash != report.head_hash) {
      problem = "row " + id + " does not link to the row before it (prev_hash mismatch)";
    }
    if (!problem.empty()) {
      report.ok = false;
      report.first_bad_id = row.id;
      report.problem = std::move(problem);
      return report;
    }
    report.head_hash = row.row_hash;
    ++expected_id;
  }
  return report;
}

}  // namespace db
