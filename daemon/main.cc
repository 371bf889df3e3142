// main.cc — the provisiond program: parse the command line and config file (daemon/cli.h), then
// run one subcommand. The only top-level catch.
#include <psa/crypto.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/admin.h"
#include "daemon/check_config.h"
#include "daemon/cli.h"
#include "daemon/cli_checks.h"
#include "daemon/init.h"
#include "daemon/log.h"
#include "daemon/serve.h"
#include "daemon/store_open.h"

namespace provisiond {
namespace {

// `provisiond check-config`: one line per problem on stderr, exit 1 if any.
int CheckConfig(Cli& cli) {
  std::vector<std::string> problems;
  auto config = cli.serve_config();
  if (!config) problems.push_back(config.error().detail);
  CheckConfigInput input{config ? *config : ServeConfig{}, cli.check().service_user};
  if (!config) {
    // Still check the files: report everything wrong in one run.
    input.config = cli.raw_serve_config();
  }
  for (auto& p : CheckServeFiles(input)) problems.push_back(std::move(p));
  const StoreOptions& store = input.config.store;
  if (!store.url.empty() || !store.password_file.empty()) {
    auto location = StoreLocation::Resolve(store, input.config.state_dir);
    if (!location) problems.push_back(location.error().detail);
  }
  std::string file = cli.config_file();
  for (const auto& p : problems) std::fprintf(stderr, "provisiond check-config: %s\n", p.c_str());
  if (!problems.empty()) return 1;
  std::printf("config OK (%s)\n", file.empty() ? "no config file" : file.c_str());
  return 0;
}

// Admin commands default to the state directory and the store of the [serve] section of the
// config file. A store that cannot be resolved is a usage error (exit 2), as a missing option.
int RunAdmin(Cli& cli) {
  AdminOptions& admin = cli.admin();
  const ServeConfig& file = cli.raw_serve_config();
  if (admin.state_dir.empty()) admin.state_dir = file.state_dir;
  if (admin.store.url.empty()) {
    admin.store.url = file.store.url;
    if (admin.store.password_file.empty()) admin.store.password_file = file.store.password_file;
  }
  const AdminCommands& commands = cli.admin_commands();
  const bool needs_ca = *commands.crl || *commands.tidy || *commands.audit_verify_archive;
  if (admin.state_dir.empty() && (admin.store.url.empty() || needs_ca)) {
    std::fprintf(stderr,
                 "provisiond: --state-dir is required (or state-dir under [serve] in "
                 "the config file)\n");
    return 2;
  }
  auto store = StoreLocation::Resolve(admin.store, admin.state_dir);
  if (!store) {
    std::fprintf(stderr, "provisiond: %s\n", store.error().detail.c_str());
    return 2;
  }
  return RunAdminCommand(cli.admin_commands(), admin, *store);
}

int Run(Cli& cli, const std::vector<std::string>& argv) {
  if (cli.init_selected()) {
    auto lines = InitStateDir(cli.init());
    if (!lines) {
      std::fprintf(stderr, "provisiond init: %s\n", lines.error().detail.c_str());
      return 1;
    }
    for (const auto& l : *lines) std::printf("%s\n", l.c_str());
    return 0;
  }
  if (cli.check_selected()) return CheckConfig(cli);
  if (!cli.serve_selected()) return RunAdmin(cli);
  auto config = cli.serve_config();
  if (!config) {
    std::fprintf(stderr, "provisiond serve: %s\n", config.error().detail.c_str());
    return 2;
  }
  if (std::string problem = ServePathProblem(*config); !problem.empty()) {
    std::fprintf(stderr, "provisiond serve: %s\n", problem.c_str());
    return 2;
  }
  auto store = StoreLocation::Resolve(config->store, config->state_dir);
  if (!store) {
    std::fprintf(stderr, "provisiond serve: %s\n", store.error().detail.c_str());
    return 2;
  }
  return RunServe(*config, *store, argv);
}

}  // namespace
}  // namespace provisiond

int main(int argc, char** argv) {
  using namespace provisiond;
  Cli cli;
  try {
    cli.Parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // check-config promises one line per problem: a config file or option it cannot parse is
    // one problem (CLI11's own report adds a "Run with --help" line).
    bool checking = std::find(argv, argv + argc, std::string_view("check-config")) != argv + argc;
    if (checking && e.get_exit_code() != static_cast<int>(CLI::ExitCodes::Success)) {
      std::fprintf(stderr, "provisiond check-config: %s\n", WithoutPasswords(e.what()).c_str());
      return 1;
    }
    return cli.app().exit(e);
  }
  SetLogLevel(cli.log_level());
  if (psa_crypto_init() != PSA_SUCCESS) {
    Log(Priority::kErr, "fatal", {{"reason", "psa_crypto_init failed"}});
    return 1;
  }
  try {
    return Run(cli, std::vector<std::string>(argv, argv + argc));
  } catch (const std::exception& e) {
    Log(Priority::kErr, "fatal", {{"reason", e.what()}});
    return 1;
  }
}
