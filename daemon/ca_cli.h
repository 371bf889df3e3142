// ca_cli.h — `provisiond ca rollover | activate | retire | status [--json]`: CA rollover (#19
// part 3, RFC 7030 §4.1.3) on the state dir and the store, online beside a serving daemon, which
// picks each change up on SIGHUP. Wired into the admin commands (daemon/admin.h).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "daemon/config.h"
#include "daemon/store_open.h"
#include "db/ca_generation_records.h"

namespace provisiond {

struct CaCommandOptions {
  int ca_days = 3650;  // rollover: the new root's validity
  bool json = false;   // status --json
  CaKeyOptions ca_key;  // --ca-key-uri, --allow-pin-value: how to reach the current key
};

struct CaCommands {
  CLI::App* ca = nullptr;
  CLI::App* rollover = nullptr;
  CLI::App* activate = nullptr;
  CLI::App* retire = nullptr;
  CLI::App* status = nullptr;
};

// Adds `ca` with its four subcommands (their --state-dir and --store options are added by
// AddAdminCommands, as for every admin command).
CaCommands AddCaCommands(CLI::App& app, CaCommandOptions& options);

// Runs the ca command that was parsed; -1 if none was. Exit codes: 0 done, 1 refused or failed,
// with one line on stderr and nothing changed.
int RunCaCommand(const CaCommands& commands, const CaCommandOptions& options,
                 const std::string& state_dir, const StoreLocation& store);

// `ca status --json` (one object).
std::string CaStatusJson(const db::CaStatusReport& report);

}  // namespace provisiond
