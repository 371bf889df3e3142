// main.cc — device-sim's command line (CLI11): factory, enroll, reenroll, relying-party. The only place that
// catches exceptions (CLI11 throws); everything below returns errors as values.
// Exit codes: 0 all good (every enrollment got its class's expected outcome), 1 some did not (or
// factory failed), 2 usage or setup error.
#include <psa/crypto.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <exception>
#include <functional>
#include <optional>
#include <string>

#include "ca/rng.h"
#include "device-sim/factory.h"
#include "device-sim/file_util.h"
#include "device-sim/fleet.h"
#include "device-sim/relying_party.h"
#include "device-sim/report.h"

namespace devsim {
namespace {

constexpr int kExitFailed = 1;
constexpr int kExitSetup = 2;

struct FleetCli {
  FleetOptions options;
  std::string server;  // HOST:PORT or [v6]:PORT
  std::string tls = "1.3";
  std::string key_share = KeyShareName(KeyShare::kSecp256r1);
  std::string mix = "good=100";
  std::string json_path;
  std::string rate, duration;  // parsed by ParseRate / ParseSeconds
};

// SIGINT stops new enrollments; the ones in flight finish and the summary is printed. A second
// SIGINT kills (SA_RESETHAND).
std::atomic<bool> g_interrupted{false};
static_assert(std::atomic<bool>::is_always_lock_free);

void OnInterrupt(int) { g_interrupted.store(true); }

void InstallInterruptHandler() {
  struct sigaction action {};
  action.sa_handler = OnInterrupt;
  action.sa_flags = SA_RESETHAND;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
}

std::string CheckMix(const std::string& text) {
  auto mix = ParseMix(text);
  return mix ? "" : mix.error().detail;
}

struct HostPort {
  std::string host;
  std::string port;
};

// Splits HOST:PORT (IPv6 as [addr]:port). nullopt if a part is missing or the port is not 1..65535.
std::optional<HostPort> SplitHostPort(const std::string& text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  HostPort out{text.substr(0, colon), text.substr(colon + 1)};
  if (out.host.size() > 2 && out.host.front() == '[' && out.host.back() == ']') {
    out.host = out.host.substr(1, out.host.size() - 2);
  }
  if (out.port.empty() || out.port.size() > 5 ||
      out.port.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  const int number = std::stoi(out.port);
  if (number < 1 || number > 65535) return std::nullopt;
  return out;
}

// An EST label is one path segment (RFC 7030 §3.2.2); keep it to unreserved characters.
std::string CheckLabel(const std::string& label) {
  if (label.empty() ||
      label.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                              "0123456789-._~") != std::string::npos) {
    return "a label is one or more of A-Z a-z 0-9 - . _ ~";
  }
  return "";
}

CLI::App* AddFactory(CLI::App& app, FactoryOptions& options, std::string& kind) {
  CLI::App* cmd =
      app.add_subcommand("factory", "create a factory CA and devices with bootstrap certificates");
  cmd->add_option("--out", options.out_dir, "fleet directory (created 0700)")->required();
  cmd->add_option("--count", options.count, "number of devices")
      ->required()
      ->check(CLI::Range(0, 1000000));
  cmd->add_option("--prefix", options.prefix, "device id prefix")->capture_default_str();
  cmd->add_option("--start", options.start, "first device number")
      ->capture_default_str()
      ->check(CLI::Range(0, 99999999));
  cmd->add_option("--kind", kind, "bootstrap certificate kind")
      ->capture_default_str()
      ->check(CLI::IsMember({"good", "expired", "not-yet-valid", "no-client-eku", "ca-leaf"}));
  cmd->add_option("--ca-name", options.ca_name, "factory CA common name")->capture_default_str();
  return cmd;
}

void AddLoadOptions(CLI::App* cmd, FleetCli& cli) {
  FleetOptions& o = cli.options;
  cmd->add_option("--count", o.count,
                  "enrollments to run (default: each selected device once); above the number of "
                  "devices, devices are reused round-robin (reenroll, or enroll --allow-reuse)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--concurrency", o.concurrency, "enrollments in flight")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--threads", o.threads, "event-loop threads (default: one per CPU)")
      ->check(CLI::Range(1, 256));
  cmd->add_option("--rate", cli.rate,
                  "enrollment starts per second, whole fleet: N, N/s, N/m or N/h (default: no "
                  "limit)")
      ->check([](const std::string& t) {
        auto r = ParseRate(t);
        return !r ? r.error().detail : *r > 1e6 ? "--rate: at most 1e6/s" : "";
      });
  cmd->add_option("--duration", cli.duration,
                  "no new enrollment starts after this: N (seconds), Ns, Nm or Nh")
      ->check([](const std::string& t) {
        auto d = ParseSeconds(t);
        return !d ? d.error().detail : *d > 1e7 ? "--duration: at most 1e7 s" : "";
      });
  cmd->add_flag("--allow-reuse", o.allow_reuse,
                "enroll: let --count/--duration reuse devices (a reused device re-sends its first "
                "CSR of the run)");
  cmd->add_option("--mix", cli.mix,
                  "scenario weights: good, rogue-ca, no-cert, expired, bad-csr, replay")
      ->capture_default_str()
      ->check(CheckMix);
  cmd->add_option("--slow", o.slow, "slowloris connections kept open during the run")
      ->check(CLI::Range(0, 100000));
  cmd->add_option("--slow-interval", o.slow_interval,
                  "seconds between two bytes of a slow connection")
      ->capture_default_str()
      ->check(CLI::Range(0.01, 3600.0));
  cmd->add_option("--slow-nice", o.slow_nice,
                  "nice value of the slow connections' thread: a real slowloris runs its own "
                  "crypto on its own machine, so by default it yields the CPU to the good "
                  "devices and the server (0: compete as an equal)")
      ->capture_default_str()
      ->check(CLI::Range(0, 19));
  cmd->add_option("--timeout", o.step_timeout,
                  "seconds per step (connect, handshake, each request)")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 3600.0));
  cmd->add_option("--max-retries", o.max_retries, "retries after 503/429 (Retry-After honoured)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000));
  cmd->add_flag("--retry-connections", o.retry_connections,
                "also retry (within --max-retries) a connect or handshake that is refused, reset "
                "or times out, and a cacerts or simpleenroll request that dies unanswered (same key and CSR): "
                "exponential back-off with "
                "jitter (a server shedding load at accept time sends no Retry-After)");
  cmd->add_flag("--prepare-keys", o.prepare_keys,
                "make every device's P-256 key and CSR (and load its credentials) before the "
                "clock starts, so that a storm's timeline measures the server, not the key making");
  cmd->add_option("--json", cli.json_path, "also write the report as JSON to FILE");
}

CLI::App* AddFleetCommand(CLI::App& app, const char* name, const char* description, FleetCli& cli) {
  CLI::App* cmd = app.add_subcommand(name, description);
  FleetOptions& o = cli.options;
  cmd->add_option("--fleet", o.fleet_dir, "fleet directory made by 'factory'")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--server", cli.server, "EST server HOST:PORT")->required();
  cmd->add_option("--ca-bundle", o.ca_bundle_path,
                  "PEM trust anchors for the server and issued certs")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--follow-rollover", o.follow_rollover,
                  "follow a CA rollover: a new root in cacerts, vouched for by a NewWithOld link "
                  "that verifies under --ca-bundle, is trusted from then on and appended to FILE")
      ->check(CLI::NonexistentPath | CLI::ExistingFile);
  cmd->add_option("--devices", o.devices, "comma-separated device ids (default: all)")
      ->delimiter(',');
  cmd->add_option("--tls", cli.tls, "TLS version")
      ->capture_default_str()
      ->check(CLI::IsMember({"1.2", "1.3"}));
  cmd->add_option("--key-share", cli.key_share,
                  "TLS 1.3: the group the ClientHello sends a key share for (both are offered)")
      ->capture_default_str()
      ->check(CLI::IsMember({KeyShareName(KeyShare::kSecp256r1), KeyShareName(KeyShare::kX25519)}));
  cmd->add_flag("--channel-binding", o.tls.channel_binding,
                "TLS 1.3: put the connection's tls-exporter value in the CSR's challengePassword");
  cmd->add_option("--server-name", o.tls.server_name, "expected server name (SNI)")
      ->capture_default_str();
  cmd->add_option("--label", o.label, "EST CA label")->check(CheckLabel);
  AddLoadOptions(cmd, cli);
  return cmd;
}

int RunFactoryCommand(const FactoryOptions& options, const std::string& kind) {
  FactoryOptions resolved = options;
  resolved.kind = *ParseBootstrapKind(kind);  // CLI::IsMember admitted only known names
  auto drbg = ca::Drbg::FromSystemEntropy();
  if (!drbg) {
    std::fprintf(stderr, "device-sim factory: %s\n", drbg.error().detail.c_str());
    return kExitSetup;
  }
  auto report =
      RunFactory(resolved, static_cast<base::UnixTime>(std::time(nullptr)), (*drbg)->rng());
  if (!report) {
    std::fprintf(stderr, "device-sim factory: %s\n", report.error().detail.c_str());
    return kExitFailed;
  }
  std::printf("factory: created=%d existing=%d ca=%s dir=%s\n", report->created, report->existing,
              report->ca_created ? "created" : "reused", options.out_dir.c_str());
  return 0;
}

// The live progress line goes to stdout only when it is a terminal; pipes get the summary only.
std::function<void(const Progress&)> ProgressPrinter(const char* command, const MixWeights& mix) {
  if (isatty(STDOUT_FILENO) == 0) return nullptr;
  return [command, mix](const Progress& p) {
    std::printf("\r%s\033[K", FormatProgress(command, p, mix).c_str());
    std::fflush(stdout);
  };
}

int RunFleetCommand(FleetCli& cli, EstOperation op) {
  FleetOptions& o = cli.options;
  const char* command = OperationName(op);
  o.op = op;
  o.tls.version = cli.tls == "1.2" ? TlsVersion::k12 : TlsVersion::k13;
  o.tls.key_share =
      cli.key_share == KeyShareName(KeyShare::kX25519) ? KeyShare::kX25519 : KeyShare::kSecp256r1;
  o.mix = *ParseMix(cli.mix);                                           // CheckMix admitted it
  if (!cli.rate.empty()) o.rate = *ParseRate(cli.rate);                 // checked above
  if (!cli.duration.empty()) o.duration = *ParseSeconds(cli.duration);  // checked above
  const auto host_port = SplitHostPort(cli.server);
  if (!host_port) {
    std::fprintf(stderr, "device-sim %s: --server must be HOST:PORT, got '%s'\n", command,
                 cli.server.c_str());
    return kExitSetup;
  }
  o.host = host_port->host;
  o.port = host_port->port;
  InstallInterruptHandler();
  const auto progress = ProgressPrinter(command, o.mix);
  auto report = RunFleet(o, progress, &g_interrupted);
  if (progress) std::fputs("\r\033[K", stdout);
  if (!report) {
    std::fprintf(stderr, "device-sim %s: %s\n", command, report.error().detail.c_str());
    return kExitSetup;
  }
  std::fputs(FormatFailures(*report).c_str(), stderr);
  std::fputs(FormatSummary(command, *report).c_str(), stdout);
  if (!cli.json_path.empty()) {
    if (auto written = ReplaceFile(cli.json_path, FormatJson(command, *report), 0644); !written) {
      std::fprintf(stderr, "device-sim %s: --json: %s\n", command, written.error().detail.c_str());
      return kExitSetup;
    }
  }
  return report->failed() == 0 ? 0 : kExitFailed;
}

CLI::App* AddRelyingParty(CLI::App& app, RelyingPartyOptions& o) {
  CLI::App* cmd = app.add_subcommand(
      "relying-party",
      "check operational certificates as a relying party: fetch the CRL named in each "
      "certificate and verify against the CA and that CRL (exit 1 if any is refused)");
  cmd->add_option("--fleet", o.fleet_dir, "fleet directory")->required()->check(CLI::ExistingDirectory);
  cmd->add_option("--ca-bundle", o.ca_bundle_path, "the issuing CA (PEM)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--devices", o.devices, "comma-separated device ids (default: all enrolled)")
      ->delimiter(',');
  cmd->add_option("--timeout", o.timeout_seconds, "seconds per CRL fetch")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 600.0));
  return cmd;
}

int RunRelyingPartyCommand(const RelyingPartyOptions& o) {
  auto report = RunRelyingParty(o);
  if (!report) {
    std::fprintf(stderr, "device-sim relying-party: %s\n", report.error().detail.c_str());
    return kExitSetup;
  }
  for (const auto& line : report->refused_lines) std::fprintf(stderr, "refused: %s\n", line.c_str());
  std::printf("relying-party: checked=%d accepted=%d revoked=%d refused_other=%d no_crl_url=%d "
              "fetch_failed=%d\n",
              report->checked, report->accepted, report->revoked, report->refused_other,
              report->no_crl_url, report->fetch_failed);
  return report->accepted == report->checked ? 0 : kExitFailed;
}

int Main(int argc, char** argv) {
  CLI::App app{"device-sim: EST client and fleet simulator for provisiond"};
  app.require_subcommand(1);
  FactoryOptions factory_options;
  std::string kind = "good";
  FleetCli enroll_cli;
  FleetCli reenroll_cli;
  FleetCli keygen_cli;
  CLI::App* factory = AddFactory(app, factory_options, kind);
  CLI::App* enroll =
      AddFleetCommand(app, "enroll", "enroll devices with their bootstrap identity", enroll_cli);
  CLI::App* reenroll = AddFleetCommand(
      app, "reenroll", "re-enroll devices with their operational identity", reenroll_cli);
  CLI::App* keygen = AddFleetCommand(
      app, "serverkeygen",
      "enroll devices with their bootstrap identity and a key the server makes (RFC 7030 4.4, "
      "TLS 1.3 only); each key is stored 0600 with its certificate and checked to match it",
      keygen_cli);
  RelyingPartyOptions relying_options;
  CLI::App* relying = AddRelyingParty(app, relying_options);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);  // prints help or the usage error
    return rc == 0 ? 0 : kExitSetup;
  }
  if (factory->parsed()) return RunFactoryCommand(factory_options, kind);
  if (enroll->parsed()) return RunFleetCommand(enroll_cli, EstOperation::kEnroll);
  if (reenroll->parsed()) return RunFleetCommand(reenroll_cli, EstOperation::kReenroll);
  if (keygen->parsed()) return RunFleetCommand(keygen_cli, EstOperation::kServerKeygen);
  if (relying->parsed()) return RunRelyingPartyCommand(relying_options);
  return kExitSetup;
}

}  // namespace
}  // namespace devsim

int main(int argc, char** argv) {
  // A server that hangs up mid-write must surface as an error from send(), not kill the process.
  std::signal(SIGPIPE, SIG_IGN);
  if (psa_crypto_init() != PSA_SUCCESS) {
    std::fputs("device-sim: psa_crypto_init failed\n", stderr);
    return devsim::kExitSetup;
  }
  try {
    return devsim::Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "device-sim: internal error: %s\n", e.what());
    return devsim::kExitSetup;
  }
}
