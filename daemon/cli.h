// cli.h — the whole provisiond command line (CLI11) and its config file, in one object so that
// SIGHUP can rebuild it: a reload parses the original argv again, which re-reads the config
// file, and the command line still wins over the file.
//
// Config file (TOML subset read by CLI11; default /etc/provisiond/provisiond.toml if it exists,
// --config FILE to name another, --config '' or PROVISIOND_CONFIG='' for none): global options
// at the top (log-level = "info"), `serve` options under [serve], spelled like the long option
// without dashes in front (state-dir = "/var/lib/provisiond", trust = ["/etc/provisiond/trust"],
// reenroll-same-key = true). Unknown keys are errors. A value given on the command line wins.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

#include "base/error.h"
#include "daemon/admin.h"
#include "daemon/config.h"
#include "daemon/init.h"
#include "daemon/log.h"
#include "daemon/profiles.h"

namespace provisiond {

inline constexpr char kDefaultConfigFile[] = "/etc/provisiond/provisiond.toml";

// The raw strings of `serve` options that need parsing after CLI11 (durations, rates, enums).
struct ServeOptions {
  ServeConfig config;
  ProfileOptions profile;
  std::string tls_min = "1.2", client_auth = "required", identity = "cn";
  std::string identity_scope = "global";
  std::string renew_before;
  std::string device_rate = "20/1h";
  std::string address_rate = "off";
  std::string drain_timeout = "10s";
  std::string crl_period = "1h";
  std::string handshake_timeout = "10s", request_timeout = "10s", idle_timeout = "5s";
  std::vector<std::string> proxy_protocol_from;  // CIDRs, parsed into config.proxy_protocol_from
};

struct CheckConfigOptions {
  std::string service_user;  // also check that this user owns the CA key
};

class Cli {
 public:
  Cli();
  Cli(const Cli&) = delete;
  Cli& operator=(const Cli&) = delete;

  // Parses argv, then the config file. Throws CLI::Error (ParseError, ConfigError, FileError):
  // main turns it into an exit code with app().exit(e); a reload turns it into a log line.
  void Parse(int argc, const char* const* argv);

  CLI::App& app() { return app_; }
  Priority log_level() const;
  // The config file read ("" if none).
  std::string config_file() const;
  // The `serve` settings, validated (durations, rates, profiles). kInvalidArgument names the
  // bad value.
  base::Result<ServeConfig> serve_config() const;

  bool init_selected() const { return init_cmd_->parsed(); }
  bool serve_selected() const { return serve_cmd_->parsed(); }
  bool check_selected() const { return check_cmd_->parsed(); }
  // The serve settings as parsed, before validation (for check-config and admin defaults).
  const ServeConfig& raw_serve_config() const { return serve_.config; }
  InitOptions& init() { return init_; }
  AdminOptions& admin() { return admin_; }
  const AdminCommands& admin_commands() const { return admin_cmds_; }
  const CheckConfigOptions& check() const { return check_; }

 private:
  CLI::App app_{"provisiond: a device-provisioning CA speaking EST over TLS 1.3 mTLS"};
  std::string log_level_ = "info";
  InitOptions init_;
  ServeOptions serve_;
  CheckConfigOptions check_;
  AdminOptions admin_;
  CLI::App* init_cmd_ = nullptr;
  CLI::App* serve_cmd_ = nullptr;
  CLI::App* check_cmd_ = nullptr;
  AdminCommands admin_cmds_{};
};

// Parses argv into a fresh Cli and returns its serve settings and log level, or the error as
// one line (for SIGHUP: the new config is refused, the old one stays).
struct ReparsedServe {
  ServeConfig config;
  Priority log_level;
};
base::Result<ReparsedServe> ReparseServe(const std::vector<std::string>& argv);

}  // namespace provisiond
