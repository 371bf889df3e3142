// main.cc — the provisiond program: CLI (CLI11), wiring, signals. The only top-level catch.
#include <psa/crypto.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <thread>

#include "ca/cert.h"
#include "daemon/admin.h"
#include "daemon/config.h"
#include "daemon/files.h"
#include "daemon/init.h"
#include "daemon/log.h"
#include "daemon/profiles.h"
#include "daemon/server.h"
#include "db/store.h"

namespace provisiond {
namespace {

int Fatal(const std::string& what) {
  Log(Priority::kErr, "fatal", {{"reason", what}});
  return 1;
}

ca::Result<tls::Material> LoadMaterial(const ServeConfig& config, std::string* ca_key_pem) {
  StatePaths paths(config.state_dir);
  tls::Material m;
  auto read = [](const std::string& path, std::string* out) -> ca::Result<void> {
    auto data = ReadFile(path);
    if (!data) return std::unexpected(data.error());
    *out = std::move(*data);
    return {};
  };
  for (auto [path, out] : {std::pair{paths.ca_cert, &m.ca_cert_pem},
                           std::pair{paths.ca_key, ca_key_pem},
                           std::pair{paths.server_cert, &m.server_cert_pem},
                           std::pair{paths.server_key, &m.server_key_pem}}) {
    if (auto r = read(path, out); !r) return std::unexpected(r.error());
  }
  for (const auto& trust : config.trust_paths) {
    auto files = ExpandTrustPath(trust);
    if (!files) return std::unexpected(files.error());
    for (const auto& f : *files) {
      std::string pem;
      if (auto r = read(f, &pem); !r) return std::unexpected(r.error());
      // Parse here so a bad file is named at start-up rather than inside a worker.
      if (auto c = ca::ParseCertificates(pem); !c) {
        return ca::Fail(ca::Code::kMalformed, "trust store " + f + ": " + c.error().detail);
      }
      m.trust_pems.push_back(std::move(pem));
    }
  }
  return m;
}

int Serve(const ServeConfig& config) {
  std::string ca_key_pem;
  auto material = LoadMaterial(config, &ca_key_pem);
  if (!material) return Fatal(material.error().detail);
  auto store = db::Store::Open(StatePaths(config.state_dir).database);
  if (!store) return Fatal("database: " + store.error().detail);
  auto server = Server::Create(config, *material, ca_key_pem, **store);
  if (!server) return Fatal(server.error().detail);

  // Signals are taken synchronously by this thread; workers never see them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::thread runner([&] { (*server)->Run(); });
  Log(Priority::kNotice, "listening on " + (*server)->address(),
      {{"trust_files", std::to_string(material->trust_pems.size())},
       {"client_auth", config.client_auth == ClientAuth::kRequired ? "required" : "optional"}});
  int sig = 0;
  sigwait(&signals, &sig);
  Log(Priority::kNotice, "stopping", {{"signal", sig == SIGTERM ? "TERM" : "INT"}});
  (*server)->Stop();
  runner.join();
  Log(Priority::kNotice, "stopped");
  return 0;
}

struct PolicyOptions {
  std::string renew_before;
  std::string device_rate = "20/1h";
  std::string address_rate = "off";
};

void AddPolicyOptions(CLI::App* serve, ServeConfig& c, PolicyOptions& p) {
  serve->add_option("--bootstrap-max-enrollments", c.policy.bootstrap_max_enrollments,
                    "certificates one bootstrap certificate may obtain (a retry with the same "
                    "key always gets the certificate already issued)")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  serve->add_option("--renew-before", p.renew_before,
                    "simplereenroll only this close to notAfter, e.g. 30d (default: any time)");
  serve->add_flag("--reenroll-same-key", c.policy.reenroll_same_key,
                  "allow re-enrollment that keeps the current key");
  serve->add_option("--rate-limit-device", p.device_rate,
                    "enrollments per client certificate, N/PERIOD (e.g. 20/1h) or off")
      ->capture_default_str();
  serve->add_option("--rate-limit-address", p.address_rate,
                    "enrollments per source address, N/PERIOD or off (fleets behind NAT share "
                    "one address)")
      ->capture_default_str();
}

ca::Result<void> ApplyPolicyOptions(const PolicyOptions& p, ServeConfig& c) {
  if (!p.renew_before.empty()) {
    auto d = ParseDuration(p.renew_before);
    if (!d) return std::unexpected(d.error());
    c.policy.renew_before = d->count();
  }
  auto device = ParseRateSpec(p.device_rate);
  if (!device) return std::unexpected(device.error());
  auto address = ParseRateSpec(p.address_rate);
  if (!address) return std::unexpected(address.error());
  c.policy.device_rate = *device;
  c.policy.address_rate = *address;
  return {};
}

void AddServeOptions(CLI::App* serve, ServeConfig& c, ProfileOptions& p, std::string& tls_min,
                     std::string& client_auth, std::string& identity) {
  serve->add_option("--state-dir", c.state_dir, "state directory made by `provisiond init`")
      ->required();
  serve->add_option("--listen", c.listen, "ADDR:PORT to listen on (port 0 picks a free port)")
      ->capture_default_str();
  serve->add_option("--trust", c.trust_paths,
                    "PEM/DER files or directories of manufacturer (bootstrap) CA certificates")
      ->required();
  serve->add_option("--tls-min", tls_min, "lowest TLS version offered")
      ->check(CLI::IsMember({"1.2", "1.3"}))
      ->capture_default_str();
  serve->add_option("--client-auth", client_auth,
                    "required: no certificate, no HTTP; optional: cacerts/csrattrs without one")
      ->check(CLI::IsMember({"required", "optional"}))
      ->capture_default_str();
  serve->add_option("--identity", identity,
                    "bootstrap certificate attribute holding the device id")
      ->check(CLI::IsMember({"cn", "serialNumber"}))
      ->capture_default_str();
  serve->add_option("--workers", c.workers, "event-loop threads (0 = one per CPU)")
      ->capture_default_str();
  serve->add_option("--max-connections", c.limits.max_connections)->capture_default_str();
  AddProfileOptions(serve, p);
}

}  // namespace
}  // namespace provisiond

int main(int argc, char** argv) {
  using namespace provisiond;
  CLI::App app{"provisiond: a device-provisioning CA speaking EST over TLS 1.3 mTLS"};
  app.require_subcommand(1);
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "err, warning, notice, info or debug")
      ->check(CLI::IsMember({"err", "warning", "notice", "info", "debug"}));

  InitOptions init;
  CLI::App* init_cmd = app.add_subcommand("init", "create the CA, server certificate and database");
  init_cmd->add_option("--state-dir", init.state_dir)->required();
  init_cmd->add_option("--server-name", init.server_names,
                       "DNS names and IP addresses for the server certificate")
      ->capture_default_str();
  init_cmd->add_option("--ca-name", init.ca_name)->capture_default_str();
  init_cmd->add_option("--ca-days", init.ca_days)->capture_default_str();
  init_cmd->add_option("--server-days", init.server_days)->capture_default_str();
  init_cmd->add_option("--ca-cert", init.ca_cert_path, "import this CA certificate (PEM)");
  init_cmd->add_option("--ca-key", init.ca_key_path, "import this CA private key (PEM)");

  ServeConfig config;
  ProfileOptions profile;
  std::string tls_min = "1.2", client_auth = "required", identity = "cn";
  CLI::App* serve = app.add_subcommand("serve", "run the EST server");
  AddServeOptions(serve, config, profile, tls_min, client_auth, identity);
  PolicyOptions policy;
  AddPolicyOptions(serve, config, policy);
  AdminOptions admin;
  AdminCommands admin_cmds = AddAdminCommands(app, admin);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  SetLogLevel(log_level == "err"       ? Priority::kErr
              : log_level == "warning" ? Priority::kWarning
              : log_level == "notice"  ? Priority::kNotice
              : log_level == "debug"   ? Priority::kDebug
                                       : Priority::kInfo);
  if (psa_crypto_init() != PSA_SUCCESS) return Fatal("psa_crypto_init failed");

  if (*init_cmd) {
    auto lines = InitStateDir(init);
    if (!lines) {
      std::fprintf(stderr, "provisiond init: %s\n", lines.error().detail.c_str());
      return 1;
    }
    for (const auto& l : *lines) std::printf("%s\n", l.c_str());
    return 0;
  }
  if (int rc = RunAdminCommand(admin_cmds, admin); rc >= 0) return rc;
  config.tls_min_minor = tls_min == "1.3" ? 3 : 2;
  config.client_auth = client_auth == "optional" ? ClientAuth::kOptional : ClientAuth::kRequired;
  config.identity =
      identity == "serialNumber" ? ca::IdentitySource::kSerialNumber : ca::IdentitySource::kCommonName;
  if (auto r = ApplyPolicyOptions(policy, config); !r) {
    std::fprintf(stderr, "provisiond serve: %s\n", r.error().detail.c_str());
    return 2;
  }
  if (auto r = ApplyProfileOptions(profile, config); !r) {
    std::fprintf(stderr, "provisiond serve: %s\n", r.error().detail.c_str());
    return 2;
  }
  return Serve(config);
}
