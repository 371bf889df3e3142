// admin.h — operator commands that work on the store (--store, default the state directory's
// SQLite file) while the daemon runs (SQLite in WAL mode lets them write beside it; the daemon
// reads revocations and the denylist at each handshake, and revocations, denylist entries and
// blocks again inside each issuance's transaction, so changes take effect at once): revoke,
// deny-bootstrap, block, unblock, grant-rebootstrap, crl, list, audit verify / checkpoint /
// verify-archive, manifest import / report, tidy, and migrate (creates or upgrades the
// schema).
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "daemon/admin_crl.h"
#include "daemon/admin_grant.h"
#include "daemon/ca_cli.h"
#include "daemon/admin_tidy.h"
#include "daemon/config.h"
#include "daemon/manifest_cli.h"
#include "daemon/store_open.h"

namespace provisiond {

struct AdminOptions {
  std::string state_dir;
  StoreOptions store;  // --store, --store-password-file (default: from [serve] in the config file)
  // revoke
  std::string serial, device_id, reason = "unspecified";
  // deny-bootstrap
  std::string fingerprint, issuer, cert_file, note = "denied by operator";
  // crl
  CaKeyOptions ca_key;  // --ca-key-uri, --allow-pin-value
  std::string out;
  bool pem = false;
  int next_update_days = 7;
  int64_t crl_generation = 1;  // crl --generation (admin_crl.h)
  // list
  bool revoked_only = false, blocked_only = false, pending_only = false, json = false;
  bool grants_only = false;  // list --grants: re-bootstrap grants instead (admin_grant.h)
  // grant-rebootstrap
  GrantOptions grant;
  std::string expiring_within;
  // manifest import / report (daemon/manifest_cli.h)
  ManifestOptions manifest;
  // ca rollover / activate / retire / status (daemon/ca_cli.h)
  CaCommandOptions ca;
  // audit verify / audit checkpoint (--out as crl's)
  std::string checkpoint_file;  // --from-checkpoint
  // tidy (daemon/admin_tidy.h; its CA key: ca_key) and audit verify-archive FILE
  TidyOptions tidy;
  std::string archive_file;
};

struct AdminCommands {
  CLI::App* revoke;
  CLI::App* deny;
  CLI::App* block;    // block --device-id ID --reason TEXT (reason kept in `note`)
  CLI::App* unblock;
  CLI::App* crl;
  CLI::App* list;
  CLI::App* audit;
  CLI::App* audit_verify;      // audit verify [--from-checkpoint FILE]
  CLI::App* audit_checkpoint;  // audit checkpoint [--out FILE] [--from-checkpoint FILE]
  CLI::App* migrate;  // migrate [--store URL]: create or upgrade the schema
  CLI::App* grant;  // grant-rebootstrap --device-id ID [--expires D] [--revoke-previous] --reason
  CLI::App* check_store;  // check-store: PRAGMA quick_check over a SQLite file (db/store_check.h)
  ManifestCommands manifest;  // manifest import / report (daemon/manifest_cli.h)
  CaCommands ca;  // ca rollover / activate / retire / status (daemon/ca_cli.h)
  CLI::App* tidy;                  // tidy --expired-before DATE ... (daemon/admin_tidy.h)
  CLI::App* audit_verify_archive;  // audit verify-archive FILE
};

AdminCommands AddAdminCommands(CLI::App& app, AdminOptions& options);

// Runs whichever admin command was parsed on `store` (options.store, resolved by main). Returns
// the process exit code, or -1 if none was.
int RunAdminCommand(const AdminCommands& commands, const AdminOptions& options,
                    const StoreLocation& store);

}  // namespace provisiond
