// manifest_cli.h — `provisiond manifest import --batch NAME FILE` and `provisiond manifest report
// [--batch NAME] [--json]`: factory manifests (#19 part 2) on the store, online beside a serving
// daemon. Wired into the admin commands (daemon/admin.h).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "daemon/store_open.h"
#include "db/manifest_records.h"

namespace provisiond {

struct ManifestOptions {
  std::string batch;
  std::string file;
  bool json = false;
};

struct ManifestCommands {
  CLI::App* manifest = nullptr;
  CLI::App* import = nullptr;
  CLI::App* report = nullptr;
};

// Adds `manifest` with its two subcommands (their --state-dir and --store options are added by
// AddAdminCommands, as for every admin command).
ManifestCommands AddManifestCommands(CLI::App& app, ManifestOptions& options);

// Runs the manifest command that was parsed; -1 if none was. Exit codes: 0 done (imported or
// unchanged), 1 refused (bad lines, conflicts, a store error), with one line per problem on
// stderr and nothing written.
int RunManifestCommand(const ManifestCommands& commands, const ManifestOptions& options,
                       const StoreLocation& store);

// The report as `manifest report --json` prints it (one object).
std::string ManifestReportJson(const db::ManifestReport& report);

}  // namespace provisiond
