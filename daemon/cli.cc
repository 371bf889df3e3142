// cli.cc — command line and config file (see cli.h).
#include "daemon/cli.h"

#include <cstdlib>
#include <tuple>

#include "daemon/authority/rate_limiter.h"
#include "daemon/cli_checks.h"

namespace provisiond {
namespace {

void AddPolicyOptions(CLI::App* cmd, ServeOptions& o) {
  cmd->add_option("--bootstrap-max-enrollments", o.config.policy.bootstrap_max_enrollments,
                  "certificates one bootstrap certificate, and one device id (within "
                  "--identity-scope), may obtain by simpleenroll (a retry with the same key "
                  "always gets the certificate already issued)")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  cmd->add_option("--renew-before", o.renew_before,
                  "simplereenroll only this close to notAfter, e.g. 30d (default: any time)")
      ->check(DurationText());
  cmd->add_flag("--reenroll-same-key", o.config.policy.reenroll_same_key,
                "allow re-enrollment that keeps the current key");
  cmd->add_flag("--require-manifest", o.config.policy.require_manifest,
                "simpleenroll only with a bootstrap certificate listed in a factory manifest "
                "(provisiond manifest import), under the device id listed with it: others get "
                "403 not_in_manifest or manifest_mismatch even if a trusted factory CA issued them");
  cmd->add_option("--rate-limit-device", o.device_rate,
                  "enrollments per device id (within --identity-scope), N/PERIOD (e.g. 20/1h) "
                  "or off")
      ->check(RateText())
      ->capture_default_str();
  cmd->add_option("--rate-limit-address", o.address_rate,
                  "enrollments per source address, N/PERIOD or off (fleets behind NAT share "
                  "one address)")
      ->check(RateText())
      ->capture_default_str();
}

// `required`: serve needs --state-dir and --trust (from the command line or the file);
// check-config reports them missing as problems instead.
void AddServeOptions(CLI::App* cmd, ServeOptions& o, bool required) {
  ServeConfig& c = o.config;
  auto* state =
      cmd->add_option("--state-dir", c.state_dir, "state directory made by `provisiond init`");
  AddStoreOptions(cmd, c.store);
  AddCaKeyOptions(cmd, c.ca_key);
  cmd->add_option("--listen", c.listen,
                  "ADDR:PORT to listen on (port 0 picks a free port; ignored when systemd "
                  "passes a socket; a numeric IP address, names are not resolved)")
      ->check(ListenAddress(/*bare_port=*/false))
      ->capture_default_str();
  auto* trust =
      cmd->add_option("--trust", c.trust_paths,
                      "PEM/DER files or directories of manufacturer (bootstrap) CA certificates");
  if (required) {
    // Their paths are checked by ServePathProblem when serve starts: a [serve] section is read
    // for check-config too, which reports missing and unreadable files as problems of its own.
    state->required();
    trust->required();
  }
  cmd->add_flag("--serverkeygen", c.serverkeygen,
                "answer /.well-known/est/[<label>/]serverkeygen (RFC 7030 4.4): the daemon makes "
                "the device's P-256 key and returns it with the certificate, over TLS 1.3 only, "
                "under the simpleenroll rules (off: 404)");
  cmd->add_option("--tls-min", o.tls_min, "lowest TLS version offered")
      ->check(CLI::IsMember({"1.2", "1.3"}))
      ->capture_default_str();
  cmd->add_option("--client-auth", o.client_auth,
                  "required: no certificate, no HTTP; optional: cacerts/csrattrs without one")
      ->check(CLI::IsMember({"required", "optional"}))
      ->capture_default_str();
  cmd->add_option("--identity", o.identity, "bootstrap certificate attribute holding the device id")
      ->check(CLI::IsMember({"cn", "serialNumber"}))
      ->capture_default_str();
  cmd->add_option("--identity-scope", o.identity_scope,
                  "global: a device id names one device whichever manufacturer CA issued its "
                  "bootstrap certificate; per-issuer: device ids are unique per trust anchor "
                  "(stored as <anchor key hash>:<id>, carried as dnQualifier and in the SAN)")
      ->check(CLI::IsMember({"global", "per-issuer"}))
      ->capture_default_str();
  cmd->add_option("--workers", c.workers,
                  "event-loop threads, 1-" + std::to_string(kMaxWorkers) +
                      " (0 = one per CPU, at most " + std::to_string(kMaxWorkers) + ")")
      ->check(CLI::Range(0, kMaxWorkers))
      ->capture_default_str();
  cmd->add_option("--max-connections", c.limits.max_connections,
                  "connections held at once; when full, a new one closes the oldest connection still in its "
                  "TLS handshake, or is closed at accept if there is none")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  cmd->add_option("--max-connections-per-source", c.limits.max_connections_per_source,
                  "connections one source address (IPv6: one /64) may hold at once; beyond "
                  "this, new ones from it are closed at accept. Peers in --proxy-protocol-from "
                  "are exempt (0 = auto: a tenth of --max-connections, at least 16)")
      ->check(CLI::Range(0, 1000000))
      ->capture_default_str();
  cmd->add_option("--handshake-timeout", o.handshake_timeout,
                  "from accept to the end of the TLS handshake (this and the next two: plus up "
                  "to 25 % at random, so clients cut off together do not return together)")
      ->check(DurationText())
      ->capture_default_str();
  cmd->add_option("--request-timeout", o.request_timeout,
                  "for each request to arrive in full, and for its reply to be written")
      ->check(DurationText())
      ->capture_default_str();
  cmd->add_option("--idle-timeout", o.idle_timeout, "keep-alive wait between two requests")
      ->check(DurationText())
      ->capture_default_str();
  cmd->add_option("--max-header-bytes", c.limits.max_header_bytes,
                  "request line and headers; larger gets 431")
      ->check(CLI::Range(size_t{1024}, size_t{1} << 20))
      ->capture_default_str();
  cmd->add_option("--max-body-bytes", c.limits.max_body_bytes, "request body; larger gets 413")
      ->check(CLI::Range(size_t{1024}, size_t{1} << 20))
      ->capture_default_str();
  cmd->add_option("--max-pending-writes", c.limits.max_pending_writes,
                  "issuances and events queued for the database; beyond this, 503 + Retry-After")
      ->check(CLI::Range(size_t{16}, size_t{1} << 20))
      ->capture_default_str();
  cmd->add_option("--commit-delay-ms", c.limits.commit_delay_ms,
                  "while enrollments are being signed, a database commit waits up to this long "
                  "for their certificates, so they share its fsync (0 = never wait)")
      ->check(CLI::Range(0, 1000))
      ->capture_default_str();
  cmd->add_option("--metrics-listen", c.metrics_listen,
                  "plain-HTTP /metrics and /healthz on ADDR:PORT (a bare PORT means "
                  "127.0.0.1:PORT; numeric addresses only; default: off)")
      ->check(ListenAddress(/*bare_port=*/true));
  cmd->add_option("--retry-after", c.retry_after_seconds,
                  "seconds a 503 or 429 tells a device to wait (Retry-After)")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  cmd->add_option("--crl-listen", c.crl_listen,
                  "plain-HTTP /crl (DER) and /crl.pem on ADDR:PORT, regenerated within a second "
                  "of any revocation and every --crl-period (a bare PORT means 127.0.0.1:PORT; "
                  "numeric addresses only; default: off)")
      ->check(ListenAddress(/*bare_port=*/true));
  cmd->add_option("--crl-period", o.crl_period,
                  "with --crl-listen: a new CRL at least this often; its nextUpdate is twice this, "
                  "and an entry stays this long after its certificate expires (60s..7d)")
      ->check(DurationText())
      ->capture_default_str();
  cmd->add_option("--drain-timeout", o.drain_timeout,
                  "on SIGTERM, how long in-flight requests may take to finish")
      ->check(DurationText())
      ->capture_default_str();
  cmd->add_option("--proxy-protocol-from", o.proxy_protocol_from,
                  "load balancers (CIDRs, e.g. 10.0.0.0/8 fd00::/8) whose connections must start "
                  "with a PROXY protocol v2 header; logs, events and the per-address rate limit "
                  "then see the client's address from it. A header from any other peer closes "
                  "the connection (default: none)")
      ->check(CidrText());
  AddProfileOptions(cmd, o.profile);
  AddPolicyOptions(cmd, o);
}

base::Result<ServeConfig> ToServeConfig(const ServeOptions& o) {
  ServeConfig c = o.config;
  c.tls_min_minor = o.tls_min == "1.3" ? 3 : 2;
  c.client_auth = o.client_auth == "optional" ? ClientAuth::kOptional : ClientAuth::kRequired;
  c.identity = o.identity == "serialNumber" ? ca::IdentitySource::kSerialNumber
                                            : ca::IdentitySource::kCommonName;
  c.identity_scope =
      o.identity_scope == "per-issuer" ? IdentityScope::kPerIssuer : IdentityScope::kGlobal;
  if (!o.renew_before.empty()) {
    auto d = ParseDuration(o.renew_before);
    if (!d) return std::unexpected(d.error());
    c.policy.renew_before = d->count();
  }
  auto device = ParseRateSpec(o.device_rate);
  if (!device) return std::unexpected(device.error());
  auto address = ParseRateSpec(o.address_rate);
  if (!address) return std::unexpected(address.error());
  c.policy.device_rate = *device;
  c.policy.address_rate = *address;
  auto drain = ParseDuration(o.drain_timeout);
  if (!drain)
    return base::Fail(base::Code::kInvalidArgument, "--drain-timeout: " + drain.error().detail);
  c.drain_timeout = *drain;
  auto crl_period = ParseDuration(o.crl_period);
  if (!crl_period || *crl_period < std::chrono::seconds(60) ||
      *crl_period > std::chrono::seconds(7 * 86400)) {
    return base::Fail(base::Code::kInvalidArgument,
                      "--crl-period: want 60s..7d, got " + o.crl_period);
  }
  c.crl_period = *crl_period;
  for (auto [text, name, out] :
       {std::tuple{&o.handshake_timeout, "--handshake-timeout", &c.limits.handshake_timeout},
        {&o.request_timeout, "--request-timeout", &c.limits.request_timeout},
        {&o.idle_timeout, "--idle-timeout", &c.limits.idle_timeout}}) {
    auto d = ParseDuration(*text);
    if (!d)
      return base::Fail(base::Code::kInvalidArgument, std::string(name) + ": " + d.error().detail);
    *out = *d;
  }
  c.proxy_protocol_from.clear();
  for (const auto& text : o.proxy_protocol_from) {
    auto range = ParseCidr(text);
    if (!range) {
      return base::Fail(base::Code::kInvalidArgument,
                        "--proxy-protocol-from: " + range.error().detail);
    }
    c.proxy_protocol_from.push_back(*range);
  }
  c.labeled_profiles.clear();
  c.profile_rules.clear();
  if (auto r = ApplyProfileOptions(o.profile, c); !r) return std::unexpected(r.error());
  return c;
}

}  // namespace

Cli::Cli() {
  app_.require_subcommand(1);
  app_.failure_message(OneLineFailure);  // before the subcommands, which copy it
  // Options a subcommand does not know go to the top level, so `serve --config F` and
  // `serve --log-level debug` work as well as `--config F serve`.
  app_.fallthrough();
  const char* env = std::getenv("PROVISIOND_CONFIG");
  app_.set_config("--config", env ? env : kDefaultConfigFile,
                  "config file: global options at the top, serve options under [serve] "
                  "(command-line values win; '' for none; default: PROVISIOND_CONFIG or " +
                      std::string(kDefaultConfigFile) + " if it exists)");
  app_.allow_config_extras(CLI::config_extras_mode::error);
  app_.add_option("--log-level", log_level_, "err, warning, notice, info or debug")
      ->check(CLI::IsMember({"err", "warning", "notice", "info", "debug"}))
      ->capture_default_str();

  init_cmd_ = app_.add_subcommand("init", "create the CA, server certificate and database");
  init_cmd_->add_option("--state-dir", init_.state_dir)
      ->required()
      ->check(NewOrExistingDirectory());
  init_cmd_
      ->add_option("--server-name", init_.server_names,
                   "DNS names and IP addresses for the server certificate")
      ->check(NonEmptyText())
      ->capture_default_str();
  init_cmd_->add_option("--ca-name", init_.ca_name)->check(NonEmptyText())->capture_default_str();
  init_cmd_->add_option("--ca-days", init_.ca_days)->check(CLI::Range(1, 36500))->capture_default_str();
  init_cmd_->add_option("--server-days", init_.server_days)
      ->check(CLI::Range(1, 36500))
      ->capture_default_str();
  init_cmd_->add_option("--ca-cert", init_.ca_cert_path, "import this CA certificate (PEM)")
      ->check(ReadableFile());
  init_cmd_->add_option("--ca-key", init_.ca_key_path, "import this CA private key (PEM)")
      ->check(ReadableFile());
  AddCaKeyOptions(init_cmd_, init_.ca_key);

  serve_cmd_ = app_.add_subcommand("serve", "run the EST server");
  AddServeOptions(serve_cmd_, serve_, /*required=*/true);

  // Added after serve: CLI11 runs option callbacks in subcommand order, so a value given to
  // check-config on the command line overrides the [serve] value from the file.
  check_cmd_ = app_.add_subcommand(
      "check-config",
      "check the serve settings (config file + these options) and the files they name; "
      "one line per problem, exit 1 if any");
  check_cmd_->add_option("--service-user", check_.service_user,
                         "also check that this user owns the CA key (default: the current user "
                         "unless root)");
  AddServeOptions(check_cmd_, serve_, /*required=*/false);

  admin_cmds_ = AddAdminCommands(app_, admin_);
}

void Cli::Parse(int argc, const char* const* argv) { app_.parse(argc, argv); }

Priority Cli::log_level() const { return ParseLogLevel(log_level_).value_or(Priority::kInfo); }

std::string Cli::config_file() const {
  const CLI::Option* opt = app_.get_config_ptr();
  if (opt == nullptr || opt->count() == 0) return "";
  auto files = opt->as<std::vector<std::string>>();
  return files.empty() ? "" : files.front();
}

base::Result<ServeConfig> Cli::serve_config() const { return ToServeConfig(serve_); }

base::Result<ReparsedServe> ReparseServe(const std::vector<std::string>& argv) {
  auto cli = std::make_unique<Cli>();
  std::vector<const char*> args;
  for (const auto& a : argv) args.push_back(a.c_str());
  try {
    cli->Parse(static_cast<int>(args.size()), args.data());
  } catch (const CLI::Error& e) {
    return base::Fail(base::Code::kInvalidArgument, e.what());
  }
  auto config = cli->serve_config();
  if (!config) return std::unexpected(config.error());
  return ReparsedServe{std::move(*config), cli->log_level()};
}

}  // namespace provisiond
