// admin_json.cc — `provisiond list --json` documents (see admin_json.h).
#include "daemon/admin_json.h"

#include <nlohmann/json.hpp>
#include <optional>

namespace provisiond {
namespace {

using Json = nlohmann::ordered_json;  // keys in the order written, as the output always had

// One compact object per line inside the array, as the output always had. The replace handler
// writes U+FFFD for invalid UTF-8 instead of throwing type_error 316, so dump cannot throw
// (bar std::bad_alloc, as any std::string can).
std::string Lines(const std::vector<Json>& objects) {
  std::string out = "[";
  for (size_t i = 0; i < objects.size(); ++i) {
    out += i ? ",\n " : "\n ";
    out += objects[i].dump(-1, ' ', /*ensure_ascii=*/false, Json::error_handler_t::replace);
  }
  return out + "\n]\n";
}

// The value, or null when it is unset (a certificate or intent that is not revoked).
template <typename T>
Json OrNull(const std::optional<T>& value) {
  return value ? Json(*value) : Json(nullptr);
}

}  // namespace

std::string CertificatesJson(const std::vector<db::CertificateRecord>& rows) {
  std::vector<Json> objects;
  objects.reserve(rows.size());
  for (const db::CertificateRecord& r : rows) {
    objects.push_back(Json{{"serial", r.serial_hex},
                           {"device_id", r.device_id},
                           {"kind", r.kind},
                           {"subject", r.subject},
                           {"not_before", r.not_before},
                           {"not_after", r.not_after},
                           {"issued_at", r.issued_at},
                           {"revoked_at", OrNull(r.revoked_at)},
                           {"revocation_reason", OrNull(r.revocation_reason)}});
  }
  return Lines(objects);
}

std::string BlocksJson(const std::vector<db::DeviceBlock>& blocks) {
  std::vector<Json> objects;
  objects.reserve(blocks.size());
  for (const db::DeviceBlock& b : blocks) {
    objects.push_back(
        Json{{"device_id", b.device_id}, {"reason", b.reason}, {"blocked_at", b.blocked_at}});
  }
  return Lines(objects);
}

std::string PendingJson(const std::vector<db::Intent>& intents) {
  std::vector<Json> objects;
  objects.reserve(intents.size());
  for (const db::Intent& r : intents) {
    objects.push_back(Json{{"serial", r.serial_hex},
                           {"device_id", r.device_id},
                           {"kind", r.kind},
                           {"created_at", r.created_at},
                           {"revoked_at", OrNull(r.revoked_at)},
                           {"revocation_reason", OrNull(r.revocation_reason)}});
  }
  return Lines(objects);
}

std::string GrantsJson(const std::vector<db::RebootstrapGrant>& grants,
                       const std::string& now_iso) {
  std::vector<Json> objects;
  objects.reserve(grants.size());
  for (const db::RebootstrapGrant& g : grants) {
    const char* status = g.spent_at ? "spent" : g.expires_at > now_iso ? "open" : "expired";
    objects.push_back(Json{{"id", g.id},
                           {"device_id", g.device_id},
                           {"status", status},
                           {"reason", g.reason},
                           {"granted_at", g.granted_at},
                           {"expires_at", g.expires_at},
                           {"revoke_previous", g.revoke_previous},
                           {"spent_at", OrNull(g.spent_at)},
                           {"spent_serial", OrNull(g.spent_serial)}});
  }
  return Lines(objects);
}

}  // namespace provisiond
