// admin_json.h — the documents `provisiond list --json` prints: a JSON array with one object per
// line, one per certificate or per active block. Built with nlohmann::json.
#pragma once

#include <string>
#include <vector>

#include "db/store.h"

namespace provisiond {

// [\n {"serial":..,"device_id":..,"kind":..,"subject":..,"not_before":..,"not_after":..,
// "issued_at":..,"revoked_at":..|null,"revocation_reason":<int>|null},\n ...\n]\n
// Text that is not valid UTF-8 (a device id or subject taken from a CSR) is written with U+FFFD
// for each bad byte; nothing here throws.
std::string CertificatesJson(const std::vector<db::CertificateRecord>& rows);

// [\n {"device_id":..,"reason":..,"blocked_at":..},\n ...\n]\n — the same rules.
std::string BlocksJson(const std::vector<db::DeviceBlock>& blocks);

// [\n {"serial":..,"device_id":..,"kind":..,"created_at":..,"revoked_at":..|null,
// "revocation_reason":<int>|null},\n ...\n]\n — pending intents, the same rules.
std::string PendingJson(const std::vector<db::Intent>& intents);

// [\n {"id":..,"device_id":..,"status":"open"|"spent"|"expired","reason":..,"granted_at":..,
// "expires_at":..,"revoke_previous":bool,"spent_at":..|null,"spent_serial":..|null},\n ...\n]\n
// — re-bootstrap grants; status as of `now_iso`; the same rules.
std::string GrantsJson(const std::vector<db::RebootstrapGrant>& grants, const std::string& now_iso);

}  // namespace provisiond
