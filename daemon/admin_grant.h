// admin_grant.h — the re-bootstrap grant commands (issue #19 part 1): `grant-rebootstrap` records a
// factory-reset device's single-use, time-boxed second enrollment; `list --grants` shows them.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "daemon/store_open.h"
#include "db/store.h"

namespace provisiond {

struct GrantOptions {
  std::string device_id;
  std::string expires = "24h";  // how long the grant may be spent (at most kMaxGrantDays)
  bool revoke_previous = false;
  std::string reason;
};

// Adds `grant-rebootstrap --device-id ID [--expires 24h] [--revoke-previous] --reason TEXT`.
CLI::App* AddGrantCommand(CLI::App& app, GrantOptions& options);

// Runs it on `store` (online beside a serving daemon, as revoke and block): exit code.
int GrantRebootstrap(const GrantOptions& options, const StoreLocation& store);

// `list --grants [--json]`: every grant, oldest first, with its status (open, spent, expired).
int ListGrants(db::Store& store, bool json);

}  // namespace provisiond
