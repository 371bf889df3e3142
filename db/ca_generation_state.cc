// ca_generation_state.cc — the CA generations' state events and their part of the audit chain's
// cross-check (ca_generation_state.h).
#include "db/ca_generation_state.h"

#include <span>

#include "ca/encoding.h"
#include "db/audit_state.h"

namespace db {
namespace {

// Read whole by `audit verify` (a handful of rows: one per rollover).
constexpr const char* kSelectGenerations =
    "SELECT gen, state, cert_sha256, new_with_old_der, old_with_new_der, key_location, "
    "created_at, activated_at, retired_at FROM ca_generations ORDER BY gen";

std::string HashOrEmpty(const std::vector<unsigned char>& der) {
  return der.empty() ? "" : ca::Sha256Hex(std::span(der.data(), der.size()));
}

EventRecord CaEvent(std::string_view time, std::string_view outcome, std::string text) {
  return EventRecord{.time = std::string(time),
                     .peer = "local",
                     .presented_fingerprint = {},
                     .presented_subject = {},
                     .device_id = {},
                     .endpoint = "state",
                     .outcome = std::string(outcome),
                     .http_status = 0,
                     .reason = std::move(text),
                     .serial_hex = {}};
}

}  // namespace

EventRecord CaRolloverEvent(const CaGeneration& generation) {
  std::string text;
  AppendValue(text, "gen", std::to_string(generation.gen));
  AppendValue(text, "cert_sha256", generation.cert_sha256);
  AppendValue(text, "new_with_old_sha256", HashOrEmpty(generation.new_with_old_der));
  AppendValue(text, "old_with_new_sha256", HashOrEmpty(generation.old_with_new_der));
  AppendValue(text, "key_location", generation.key_location);
  AppendValue(text, "created_at", generation.created_at);
  return CaEvent(generation.created_at, "ca_rollover", std::move(text));
}

EventRecord CaActivatedEvent(int64_t gen, std::string_view activated_at) {
  std::string text;
  AppendValue(text, "gen", std::to_string(gen));
  AppendValue(text, "activated_at", activated_at);
  return CaEvent(activated_at, "ca_activated", std::move(text));
}

EventRecord CaRetiredEvent(int64_t gen, std::string_view retired_at) {
  std::string text;
  AppendValue(text, "gen", std::to_string(gen));
  AppendValue(text, "retired_at", retired_at);
  return CaEvent(retired_at, "ca_retired", std::move(text));
}

Result<std::vector<std::pair<EventRecord, std::string>>> CaGenerationState(const RowQuery& query,
                                                                          std::string* problem) {
  std::vector<std::pair<EventRecord, std::string>> out;
  // The non-retired generation activated last (ties: the higher number) must be the active one.
  int64_t newest_gen = 0, active_gen = 0;
  std::string newest_at;
  auto read = query(kSelectGenerations, [&](const RowView& row) {
    CaGeneration g{.gen = row.Int(0),
                   .state = row.Text(1),
                   .cert_sha256 = row.Text(2),
                   .new_with_old_der = row.IsNull(3) ? std::vector<unsigned char>() : row.Blob(3),
                   .old_with_new_der = row.IsNull(4) ? std::vector<unsigned char>() : row.Blob(4),
                   .key_location = row.Text(5),
                   .created_at = row.Text(6)};
    const std::string name = "CA generation " + std::to_string(g.gen);
    out.emplace_back(CaRolloverEvent(g), name);
    if (!row.IsNull(7)) {
      const std::string activated_at = row.Text(7);
      out.emplace_back(CaActivatedEvent(g.gen, activated_at), name + " activation");
      if (row.IsNull(8) && activated_at >= newest_at) {
        newest_at = activated_at;
        newest_gen = g.gen;
      }
    }
    if (!row.IsNull(8)) out.emplace_back(CaRetiredEvent(g.gen, row.Text(8)), name + " retirement");
    if (g.state == "active") active_gen = g.gen;
  });
  if (!read) return std::unexpected(read.error());
  if (active_gen != newest_gen && problem != nullptr) {
    *problem = "CA generation " + std::to_string(active_gen) +
               " is active but generation " + std::to_string(newest_gen) +
               " was activated after it: the state was changed outside provisiond";
  }
  return out;
}

}  // namespace db
