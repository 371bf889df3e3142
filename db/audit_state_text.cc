// audit_state_text.cc — the state events' canonical text: what each state change records in the
// enrollment_events chain (the forms listed in audit_state.h). The cross-check of the state tables
// against those events and migration 4's backfill are in audit_state.cc.
#include "db/audit_state.h"

#include <span>
#include <string>

#include "ca/encoding.h"

namespace db {
namespace {

constexpr std::string_view kStateEndpoint = "state";

EventRecord StateEvent(std::string_view time, std::string_view peer, std::string_view device_id,
                       std::string_view outcome, std::string reason) {
  return EventRecord{.time = std::string(time),
                     .peer = std::string(peer),
                     .presented_fingerprint = {},
                     .presented_subject = {},
                     .device_id = std::string(device_id),
                     .endpoint = std::string(kStateEndpoint),
                     .outcome = std::string(outcome),
                     .http_status = 0,
                     .reason = std::move(reason),
                     .serial_hex = {}};
}

}  // namespace

// key="value" with '"' and '\' escaped; fields joined by one space.
void AppendValue(std::string& out, std::string_view key, std::string_view value) {
  if (!out.empty()) out += ' ';
  out += key;
  out += "=\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}

EventRecord IntentStateEvent(const Intent& intent) {
  return IntentStateEvent(intent, ca::Sha256Hex(std::span(intent.tbs)));
}

EventRecord IntentStateEvent(const Intent& intent, std::string_view tbs_sha256) {
  std::string text;
  AppendValue(text, "serial", intent.serial_hex);
  AppendValue(text, "device_id", intent.device_id);
  AppendValue(text, "kind", intent.kind);
  AppendValue(text, "public_key_sha256", intent.public_key_sha256);
  AppendValue(text, "auth_cert_fingerprint", intent.auth_cert_fingerprint);
  AppendValue(text, "profile", intent.profile);
  AppendValue(text, "tbs_sha256", tbs_sha256);
  return StateEvent(intent.created_at, intent.peer, intent.device_id, "intent", std::move(text));
}

EventRecord CompactIntentStateEvent(const Intent& intent) {
  EventRecord event = IntentStateEvent(intent);
  event.reason = CompactIntentReason(intent.serial_hex, event.reason);
  return event;
}

EventRecord RevokedStateEvent(std::string_view serial_hex, std::string_view device_id,
                              std::string_view revoked_at, int reason) {
  return RevokedStateEvent(serial_hex, device_id, revoked_at, std::to_string(reason));
}

EventRecord RevokedStateEvent(std::string_view serial_hex, std::string_view device_id,
                              std::string_view revoked_at, std::string_view reason) {
  std::string text;
  AppendValue(text, "serial", serial_hex);
  AppendValue(text, "revoked_at", revoked_at);
  AppendValue(text, "reason", reason);
  return StateEvent(revoked_at, "local", device_id, "revoked", std::move(text));
}

EventRecord DeniedStateEvent(int64_t id, const DenyEntry& entry) {
  std::string text;
  AppendValue(text, "id", std::to_string(id));
  AppendValue(text, "fingerprint", entry.fingerprint);
  AppendValue(text, "issuer", entry.issuer);
  AppendValue(text, "serial", entry.serial_hex);
  AppendValue(text, "reason", entry.reason);
  AppendValue(text, "added_at", entry.added_at);
  return StateEvent(entry.added_at, "local", "", "denylisted", std::move(text));
}

EventRecord BlockedStateEvent(const DeviceBlock& block) {
  std::string text;
  AppendValue(text, "id", std::to_string(block.id));
  AppendValue(text, "device_id", block.device_id);
  AppendValue(text, "reason", block.reason);
  AppendValue(text, "blocked_at", block.blocked_at);
  return StateEvent(block.blocked_at, "local", block.device_id, "blocked", std::move(text));
}

EventRecord UnblockedStateEvent(const DeviceBlock& block) {
  std::string text;
  AppendValue(text, "id", std::to_string(block.id));
  AppendValue(text, "device_id", block.device_id);
  AppendValue(text, "reason", block.lift_reason.value_or(""));
  AppendValue(text, "lifted_at", block.lifted_at.value_or(""));
  return StateEvent(block.lifted_at.value_or(""), "local", block.device_id, "unblocked",
                    std::move(text));
}

EventRecord GrantedStateEvent(const RebootstrapGrant& grant) {
  std::string text;
  AppendValue(text, "id", std::to_string(grant.id));
  AppendValue(text, "device_id", grant.device_id);
  AppendValue(text, "reason", grant.reason);
  AppendValue(text, "granted_at", grant.granted_at);
  AppendValue(text, "expires_at", grant.expires_at);
  AppendValue(text, "revoke_previous", grant.revoke_previous ? "1" : "0");
  return StateEvent(grant.granted_at, "local", grant.device_id, "rebootstrap_granted",
                    std::move(text));
}

EventRecord SpentStateEvent(const RebootstrapGrant& grant) {
  std::string text;
  AppendValue(text, "id", std::to_string(grant.id));
  AppendValue(text, "device_id", grant.device_id);
  AppendValue(text, "serial", grant.spent_serial.value_or(""));
  AppendValue(text, "spent_at", grant.spent_at.value_or(""));
  return StateEvent(grant.spent_at.value_or(""), "local", grant.device_id, "rebootstrap_spent",
                    std::move(text));
}

// `serial="S" state_sha256="H"`: H is the SHA-256 of the intent event's full reason text.
std::string CompactIntentReason(std::string_view serial_hex, std::string_view full_reason) {
  std::string text;
  AppendValue(text, "serial", serial_hex);
  AppendValue(text, "state_sha256",
              ca::Sha256Hex(std::span(reinterpret_cast<const unsigned char*>(full_reason.data()),
                                      full_reason.size())));
  return text;
}

}  // namespace db
