// admin_grant.cc — `provisiond grant-rebootstrap` and `provisiond list --grants` (admin_grant.h).
#include "daemon/admin_grant.h"

#include <cstdio>
#include <ctime>

#include "ca/encoding.h"
#include "daemon/admin_json.h"
#include "daemon/authority/rate_limiter.h"
#include "daemon/cli_checks.h"
#include "daemon/cli_error.h"

namespace provisiond {
namespace {

// A grant is an exception to the one-time bootstrap rule: it stays short.
constexpr int64_t kMaxGrantSeconds = 30 * 86400;

using cli::Error;

// key="value" with '"', '\' and control bytes escaped, as the audit chain's state events write
// operator text: one line, one value per key.
void AppendQuoted(std::string& out, const char* key, const std::string& value) {
  if (!out.empty()) out += ' ';
  out += key;
  out += "=\"";
  for (unsigned char c : value) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
}

std::string Status(const db::RebootstrapGrant& g, const std::string& now) {
  if (g.spent_at) return "spent";
  return g.expires_at > now ? "open" : "expired";
}

// The grant as the admin event's reason and the command's output line.
std::string GrantText(const db::RebootstrapGrant& g) {
  std::string text;
  AppendQuoted(text, "id", std::to_string(g.id));
  AppendQuoted(text, "device_id", g.device_id);
  AppendQuoted(text, "expires_at", g.expires_at);
  AppendQuoted(text, "revoke_previous", g.revoke_previous ? "yes" : "no");
  AppendQuoted(text, "reason", g.reason);
  return text;
}

}  // namespace

CLI::App* AddGrantCommand(CLI::App& app, GrantOptions& o) {
  CLI::App* cmd = app.add_subcommand(
      "grant-rebootstrap",
      "let a factory-reset device enroll once more with its used bootstrap certificate and a new "
      "key (single use, time-boxed)");
  cmd->add_option("--device-id", o.device_id, "the device id, as provisiond list shows it")
      ->required()
      ->check(NonEmptyText());
  cmd->add_option("--expires", o.expires, "how long the grant may be used, e.g. 24h (at most 30d)")
      ->check(DurationText())
      ->capture_default_str();
  cmd->add_flag("--revoke-previous", o.revoke_previous,
                "revoke the device's other certificates (superseded) in the transaction that "
                "issues the new one");
  cmd->add_option("--reason", o.reason, "why (kept with the grant, in the audit chain)")
      ->required()
      ->check(NonEmptyText());
  return cmd;
}

int GrantRebootstrap(const GrantOptions& o, const StoreLocation& location) {
  auto duration = ParseDuration(o.expires);
  if (!duration) return Error("grant-rebootstrap: --expires: " + duration.error().detail);
  if (duration->count() <= 0 || duration->count() > kMaxGrantSeconds) {
    return Error("grant-rebootstrap: --expires " + o.expires + ": must be between 1s and 30d");
  }
  auto opened = location.Open();
  if (!opened) return Error("database: " + opened.error().detail);
  db::Store& store = **opened;
  const auto now = static_cast<base::UnixTime>(std::time(nullptr));
  db::RebootstrapGrant request{.device_id = o.device_id,
                               .reason = o.reason,
                               .granted_at = ca::Iso8601(now),
                               .expires_at = ca::Iso8601(now + duration->count()),
                               .revoke_previous = o.revoke_previous};
  // The grant, its state event and the operator's event (which names the grant's id): one
  // transaction, as for revoke.
  auto granted = store.GrantRebootstrapRecorded(request, [](const db::RebootstrapGrant& g) {
    return db::EventRecord{.time = g.granted_at, .peer = "local", .device_id = g.device_id,
                           .endpoint = "admin", .outcome = "rebootstrap_granted",
                           .reason = GrantText(g)};
  });
  if (!granted) return Error("grant-rebootstrap: " + granted.error().detail);
  if (!*granted) {
    return Error("grant-rebootstrap: device_id=" + o.device_id +
                 " already has an open re-bootstrap grant (see provisiond list --grants)");
  }
  const std::string text = GrantText(**granted);
  std::printf("granted rebootstrap %s\n", text.c_str());
  if (auto known = store.FindByDevice(o.device_id); known && known->empty()) {
    std::fprintf(stderr,
                 "provisiond: grant-rebootstrap: note: no certificate names device_id=%s (with "
                 "--identity-scope per-issuer, ids are <scope>:<id>; see provisiond list)\n",
                 o.device_id.c_str());
  }
  return 0;
}

int ListGrants(db::Store& store, bool json) {
  auto grants = store.ListGrants();
  if (!grants) return Error(grants.error().detail);
  const std::string now = ca::Iso8601(static_cast<base::UnixTime>(std::time(nullptr)));
  if (json) {
    std::fputs(GrantsJson(*grants, now).c_str(), stdout);
    return 0;
  }
  std::printf("%-6s  %-24s  %-7s  %-20s  %-20s  %-7s  %-32s  %s\n", "ID", "DEVICE_ID", "STATUS",
              "GRANTED_AT", "EXPIRES_AT", "REVOKE", "SPENT_SERIAL", "REASON");
  for (const auto& g : *grants) {
    std::string reason;
    AppendQuoted(reason, "reason", g.reason);
    std::printf("%-6lld  %-24s  %-7s  %-20s  %-20s  %-7s  %-32s  %s\n",
                static_cast<long long>(g.id), g.device_id.c_str(), Status(g, now).c_str(),
                g.granted_at.c_str(), g.expires_at.c_str(), g.revoke_previous ? "yes" : "no",
                g.spent_serial.value_or("-").c_str(), reason.c_str());
  }
  return 0;
}

}  // namespace provisiond
