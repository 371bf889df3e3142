// ca_cli.cc — the `ca rollover | activate | retire | status` commands (ca_cli.h).
#include "daemon/ca_cli.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "ca/cert.h"
#include "ca/encoding.h"
#include "ca/rollover.h"
#include "ca/server_reissue.h"
#include "daemon/ca_generations.h"
#include "daemon/ca_key_source.h"
#include "daemon/ca_rollover_key.h"
#include "daemon/cli_error.h"
#include "daemon/files.h"

namespace provisiond {
namespace {

int Error(const std::string& what) { return cli::Error("ca", what); }

std::string Now() { return ca::Iso8601(std::time(nullptr)); }

std::string HashHex(const base::Bytes& der) { return ca::Sha256Hex(std::span(der)); }

// The generation that issues now: the store's active one, or generation 1 (ca.crt) before any
// rollover.
struct Current {
  int64_t gen = 1;
  int64_t newest = 1;
  std::string cert_pem;
};

base::Result<Current> CurrentGeneration(const std::vector<db::CaGeneration>& generations,
                                        const std::string& state_dir) {
  Current c;
  for (const db::CaGeneration& g : generations) {
    c.newest = std::max(c.newest, g.gen);
    if (g.state == "pending") {
      return base::Fail(base::Code::kInvalidArgument,
                        "generation " + std::to_string(g.gen) +
                            " is already pending: activate it (provisiond ca activate) first");
    }
    if (g.state == "previous") {
      return base::Fail(base::Code::kInvalidArgument,
                        "generation " + std::to_string(g.gen) +
                            " is still trusted for re-enrollment: retire it (provisiond ca "
                            "retire) before the next rollover");
    }
    if (g.state == "active") c.gen = g.gen;
  }
  auto pem = ReadFile(StatePaths(GenerationDir(state_dir, c.gen)).ca_cert);
  if (!pem) return std::unexpected(pem.error());
  c.cert_pem = std::move(*pem);
  return c;
}

// The TLS server certificate (server.crt: its key and names) again under the new generation, for
// serve to present once every older generation is retired (docs/rollover.md).
base::Result<base::Bytes> ServerCertFor(const std::string& server_cert_path,
                                        const base::Bytes& new_ca_der, ca::CaKey& new_key,
                                        ca::Rng rng) {
  auto pem = ReadFile(server_cert_path);
  if (!pem) return std::unexpected(pem.error());
  auto server = ca::ParseCertificates(*pem);
  if (!server) return base::Fail(base::Code::kInvalidArgument,
                                 server_cert_path + ": " + server.error().detail);
  auto new_ca = ca::ParseCertificates(std::string_view(
      reinterpret_cast<const char*>(new_ca_der.data()), new_ca_der.size()));
  if (!new_ca) return std::unexpected(ca::ToBaseError(new_ca.error()));
  auto der = ca::ReissueServerCert(*(*server)->get(), *(*new_ca)->get(), new_key,
                                   std::time(nullptr), rng);
  if (!der) return std::unexpected(ca::ToBaseError(der.error()));
  return std::move(*der);
}

// Writes the new generation's root, links and server certificate into dir (its key is there
// already, new_key).
base::Result<db::CaGeneration> WriteGeneration(const std::string& dir, int64_t gen,
                                               const CaCommandOptions& o, const Current& current,
                                               CaKeySource& old_source, RolloverKey& new_key,
                                               const std::string& server_cert_path, ca::Rng rng) {
  auto old_key = old_source.NewKey(rng);
  if (!old_key) return std::unexpected(old_key.error());
  auto old_cert = ca::ParseCertificates(current.cert_pem);
  if (!old_cert) return std::unexpected(ca::ToBaseError(old_cert.error()));
  auto certs = ca::MakeRolloverCerts(*(*old_cert)->get(), **old_key, new_key.key(),
                                     std::time(nullptr), o.ca_days, rng);
  if (!certs) return std::unexpected(ca::ToBaseError(certs.error()));
  auto server = ServerCertFor(server_cert_path, certs->new_ca, new_key.key(), rng);
  if (!server) return std::unexpected(server.error());
  StatePaths paths(dir);
  const std::pair<std::string, const base::Bytes*> files[] = {
      {paths.ca_cert, &certs->new_ca},
      {dir + "/newwithold.crt", &certs->new_with_old},
      {dir + "/oldwithnew.crt", &certs->old_with_new},
      {paths.server_cert, &*server}};
  for (const auto& [path, der] : files) {
    if (auto r = WriteNewFile(path, ca::DerToPem(*der, "CERTIFICATE"), 0644); !r) {
      return std::unexpected(r.error());
    }
  }
  return db::CaGeneration{.gen = gen,
                          .state = "pending",
                          .cert_sha256 = HashHex(certs->new_ca),
                          .cert_der = certs->new_ca,
                          .new_with_old_der = certs->new_with_old,
                          .old_with_new_der = certs->old_with_new,
                          .key_location = new_key.location(),
                          .created_at = Now()};
}

base::Result<db::CaGeneration> FirstGeneration(const std::string& state_dir) {
  StatePaths paths(state_dir);
  auto pem = ReadFile(paths.ca_cert);
  if (!pem) return std::unexpected(pem.error());
  auto cert = ca::ParseCertificates(*pem);
  if (!cert) return std::unexpected(ca::ToBaseError(cert.error()));
  std::error_code ec;
  const bool token = std::filesystem::exists(paths.ca_key_uri, ec);
  db::CaGeneration g{.gen = 1, .state = "active", .key_location = token ? "ca.key.uri" : "ca.key"};
  g.cert_der = ca::CertDer(*(*cert)->get());
  g.cert_sha256 = HashHex(g.cert_der);
  g.created_at = Now();
  g.activated_at = g.created_at;
  return g;
}

std::string Refusal(db::CaChange change) {
  switch (change) {
    case db::CaChange::kDone: return "";
    case db::CaChange::kPendingExists: return "another generation is already pending";
    case db::CaChange::kPreviousExists:
      return "a previous generation is still trusted: retire it (provisiond ca retire) first";
    case db::CaChange::kGenTaken: return "another rollover recorded this generation first";
    case db::CaChange::kNothingPending:
      return "nothing to activate: no generation is pending (provisiond ca rollover makes one)";
    case db::CaChange::kNothingToRetire:
      return "nothing to retire: only the generation an activation replaced can be retired, "
             "never the active one";
  }
  return "unknown outcome";
}

int Rollover(const CaCommandOptions& o, const std::string& state_dir, db::Store& store) {
  auto generations = store.ListCaGenerations();
  if (!generations) return Error("database: " + generations.error().detail);
  auto current = CurrentGeneration(*generations, state_dir);
  if (!current) return Error("rollover refused: " + current.error().detail);
  auto first = FirstGeneration(state_dir);
  if (!first) return Error("rollover: " + first.error().detail);
  auto drbg = ca::Drbg::FromSystemEntropy();
  if (!drbg) return Error(drbg.error().detail);
  // The current key first: a token that cannot be used refuses before anything is made.
  auto old_source = OpenGenerationKey(state_dir, current->gen, o.ca_key, (*drbg)->rng(), nullptr);
  if (!old_source) return Error("rollover refused: " + old_source.error().detail);
  const int64_t gen = current->newest + 1;
  const std::string dir = GenerationDir(state_dir, gen);
  if (::mkdir(dir.c_str(), 0700) != 0) {
    return Error("rollover refused: mkdir " + dir + ": " + std::strerror(errno) +
                 (errno == EEXIST ? " (left by an earlier rollover? remove it)" : ""));
  }
  std::unique_ptr<RolloverKey> new_key;
  auto cleanup = [&](std::string why) {  // the token's new key pair, then the directory
    if (new_key) {
      if (std::string left = new_key->Discard(); !left.empty()) why += "; " + left;
    }
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
    return Error(why);
  };
  auto made = RolloverKey::Make(**old_source, dir, gen, (*drbg)->rng());
  if (!made) return cleanup("rollover: " + made.error().detail);
  new_key = std::move(*made);
  auto next = WriteGeneration(dir, gen, o, *current, **old_source, *new_key,
                              StatePaths(state_dir).server_cert, (*drbg)->rng());
  if (!next) return cleanup("rollover: " + next.error().detail);
  auto change = store.AddCaGeneration(*first, *next);
  if (!change) return cleanup("rollover: database: " + change.error().detail);
  if (*change != db::CaChange::kDone) return cleanup("rollover refused: " + Refusal(*change));
  std::printf(
      "generation %lld pending: CA %s/ca.crt (key %s) with links newwithold.crt and "
      "oldwithnew.crt and server.crt (presented once the older generations are retired); "
      "/cacerts serves them after a reload (SIGHUP); provisiond ca activate switches issuance "
      "to it\n",
      static_cast<long long>(gen), dir.c_str(), new_key->description().c_str());
  return 0;
}

int Change(bool activate, db::Store& store) {
  int64_t gen = 0;
  const std::string at = Now();
  auto change = activate ? store.ActivateCaGeneration(at, &gen) : store.RetireCaGeneration(at, &gen);
  if (!change) return Error("database: " + change.error().detail);
  if (*change != db::CaChange::kDone) {
    return Error(std::string(activate ? "activate" : "retire") + " refused: " + Refusal(*change));
  }
  std::printf(activate ? "generation %lld active: it issues every new certificate after a reload "
                         "(SIGHUP); the one it replaced is still trusted for re-enrollment\n"
                       : "generation %lld retired: its certificates are refused after a reload "
                         "(SIGHUP)\n",
              static_cast<long long>(gen));
  return 0;
}

int Status(const CaCommandOptions& o, db::Store& store) {
  auto report = store.CaStatus(Now());
  if (!report) return Error("database: " + report.error().detail);
  if (o.json) {
    std::fputs(CaStatusJson(*report).c_str(), stdout);
    return 0;
  }
  std::printf("active devices: %lld\n", static_cast<long long>(report->active_devices));
  std::printf("%-4s %-9s %8s %8s  %-20s  %s\n", "GEN", "STATE", "HOLDING", "FETCHED",
              "ACTIVATED_AT", "CERT_SHA256");
  for (const db::CaGenerationCounts& c : report->generations) {
    std::printf("%-4lld %-9s %8lld %8lld  %-20s  %s\n", static_cast<long long>(c.generation.gen),
                c.generation.state.c_str(), static_cast<long long>(c.devices_holding),
                static_cast<long long>(c.devices_fetched),
                c.generation.activated_at.value_or("-").c_str(), c.generation.cert_sha256.c_str());
  }
  if (report->generations.empty()) std::printf("(no rollover yet: generation 1 is ca.crt)\n");
  return 0;
}

}  // namespace

std::string CaStatusJson(const db::CaStatusReport& report) {
  using Json = nlohmann::ordered_json;
  Json generations = Json::array();
  for (const db::CaGenerationCounts& c : report.generations) {
    const db::CaGeneration& g = c.generation;
    generations.push_back(Json{{"gen", g.gen},
                               {"state", g.state},
                               {"devices_holding", c.devices_holding},
                               {"devices_fetched_cacerts", c.devices_fetched},
                               {"cert_sha256", g.cert_sha256},
                               {"key_location", g.key_location},
                               {"created_at", g.created_at},
                               {"activated_at", g.activated_at ? Json(*g.activated_at) : Json()},
                               {"retired_at", g.retired_at ? Json(*g.retired_at) : Json()}});
  }
  Json doc{{"active_devices", report.active_devices}, {"generations", std::move(generations)}};
  return doc.dump(2, ' ', /*ensure_ascii=*/false, Json::error_handler_t::replace) + "\n";
}

CaCommands AddCaCommands(CLI::App& app, CaCommandOptions& o) {
  CaCommands c;
  c.ca = app.add_subcommand("ca", "CA rollover (RFC 7030 4.1.3): a new CA generation beside the "
                                  "current one, then activate, then retire the old one");
  c.ca->require_subcommand(1);
  c.rollover = c.ca->add_subcommand(
      "rollover",
      "make the next CA generation (a new P-256 key, in a file or in the current "
      "key's PKCS#11 token, its root with the current "
      "root's subject, and the links NewWithOld and OldWithNew) as pending: /cacerts "
      "serves all three; refused while a generation is pending or previous");
  c.rollover->add_option("--ca-days", o.ca_days, "validity of the new root")
      ->check(CLI::Range(1, 36500))
      ->capture_default_str();
  c.activate = c.ca->add_subcommand(
      "activate", "the pending generation issues from now on; the one it replaces stays trusted "
                  "for simplereenroll until retired");
  c.retire = c.ca->add_subcommand(
      "retire", "stop trusting the generation the last activation replaced: its certificates "
                "are refused (never the active one)");
  c.status = c.ca->add_subcommand(
      "status", "per generation: state, devices holding its certificates, active devices that "
                "fetched /cacerts with it");
  c.status->add_flag("--json", o.json, "one JSON object instead of a table");
  return c;
}

int RunCaCommand(const CaCommands& c, const CaCommandOptions& o, const std::string& state_dir,
                 const StoreLocation& location) {
  CLI::App* ran = nullptr;
  for (CLI::App* cmd : {c.rollover, c.activate, c.retire, c.status}) {
    if (cmd != nullptr && *cmd) ran = cmd;
  }
  if (ran == nullptr) return -1;
  if (ran == c.rollover && state_dir.empty()) {
    return Error("rollover: --state-dir is required (the new key and certificates go there)");
  }
  auto store = location.Open();
  if (!store) return Error("database: " + store.error().detail);
  if (ran == c.rollover) return Rollover(o, state_dir, **store);
  if (ran == c.status) return Status(o, **store);
  return Change(ran == c.activate, **store);
}

}  // namespace provisiond
