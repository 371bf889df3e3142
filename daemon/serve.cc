// serve.cc — the serve command's start-up, signal loop, reload and shutdown (see serve.h).
#include "daemon/serve.h"

#include <malloc.h>
#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <thread>

#include "ca/cert.h"
#include "ca/encoding.h"
#include "ca/rng.h"
#include "daemon/ca_generations.h"
#include "daemon/ca_key_source.h"
#include "daemon/ca_key_watch.h"
#include "daemon/check_config.h"
#include "daemon/cli.h"
#include "daemon/crl_service.h"
#include "daemon/fd_limit.h"
#include "daemon/inherited_sockets.h"
#include "daemon/files.h"
#include "daemon/log.h"
#include "daemon/metrics.h"
#include "daemon/metrics_http.h"
#include "daemon/net.h"
#include "daemon/reload.h"
#include "daemon/serve_material.h"
#include "daemon/server.h"
#include "daemon/systemd.h"
#include "daemon/store_checker.h"
#include "daemon/store_open.h"
#include "daemon/store_watch.h"
#include "db/store.h"

namespace provisiond {
namespace {

constexpr auto kStatusPeriod = std::chrono::seconds(5);

int Fatal(const std::string& what) {
  Log(Priority::kErr, "fatal", {{"reason", what}});
  return 1;
}

// Everything the signal loop needs.
struct Daemon {
  std::vector<std::string> argv;
  std::shared_ptr<const ServeConfig> config;
  std::string ca_cert_pem;  // ca.crt (generation 1) as read at start: a new one needs a restart
  std::unique_ptr<CaKeySource> ca_key;  // outlives the server, whose workers hold its keys
  std::unique_ptr<ca::Drbg> drbg;       // this thread's (the signal loop's): opening CA keys
  CaSet ca_set;  // the CA generations in force (daemon/ca_generations.h); later ones' keys:

  std::map<int64_t, std::unique_ptr<CaKeySource>> gen_keys;
  std::unique_ptr<ServeStore> store;
  std::unique_ptr<Server> server;
  std::unique_ptr<SideHttp> metrics_http;
  std::unique_ptr<CrlService> crl;  // --crl-listen (crl_service.h)
  std::unique_ptr<StoreProbe> store_probe;  // asks a down store again (store_watch.h)
  std::unique_ptr<BackgroundStoreCheck> store_check;  // SQLite: every page, in the background
  std::unique_ptr<CaKeyProbe> ca_key_probe;  // a token key's signature once a second, else null
  std::atomic<bool> draining{false};
};

std::string Status(const char* state) {
  return std::string(state) + ": " + GlobalMetrics().StatusLine();
}

// The key of generation `gen` (ca_generations.h), opened once and kept for the process's life.
base::Result<CaKeySource*> GenerationKey(Daemon& d, int64_t gen) {
  if (gen <= 1) return d.ca_key.get();
  if (auto it = d.gen_keys.find(gen); it != d.gen_keys.end()) return it->second.get();
  auto source = OpenGenerationKey(d.config->state_dir, gen, d.config->ca_key, d.drbg->rng(),
                                  d.ca_key->tokens());
  if (!source) return std::unexpected(source.error());
  return (d.gen_keys[gen] = std::move(*source)).get();
}

// Each generation the CRL service signs for (the active and previous ones), with its key.
base::Result<std::vector<CrlGeneration>> CrlGenerations(Daemon& d, const CaSet& set) {
  std::vector<CrlGeneration> out;
  for (size_t i = 0; i < set.trusted_gens.size(); ++i) {
    auto key = GenerationKey(d, set.trusted_gens[i]);
    if (!key) return std::unexpected(key.error());
    out.push_back(CrlGeneration{
        .gen = set.trusted_gens[i],
        .ca_cert_pem = ca::DerToPem(set.trusted_certs[i], "CERTIFICATE"),
        .keys = [source = *key](ca::Rng rng) { return source->NewKey(rng); }});
  }
  return out;
}

// The set's keys (opened once, kept for the process's life), and the CRL generations when a CRL
// is served: all of them or none, so a refused reload changes nothing.
struct SetKeys {
  CaKeySource* active = nullptr;
  CaKeySource* previous = nullptr;  // set.previous_gen's, when there is one
  std::vector<CrlGeneration> crl;
  // What the CA key probe signs with: every key serve signs with (the active generation's, and
  // the previous one's while it is trusted: CRLs and resumed pending intents).
  std::vector<ProbedKey> probed;
};
base::Result<SetKeys> KeysOf(Daemon& d, const CaSet& set) {
  SetKeys keys;
  auto active = GenerationKey(d, set.active_gen);
  if (!active) return std::unexpected(active.error());
  keys.active = *active;
  keys.probed.push_back({.gen = set.active_gen, .source = keys.active});
  if (set.previous_gen != 0) {
    auto previous = GenerationKey(d, set.previous_gen);
    if (!previous) return std::unexpected(previous.error());
    keys.previous = *previous;
    keys.probed.push_back({.gen = set.previous_gen, .source = keys.previous});
  }
  if (d.crl) {
    auto crl = CrlGenerations(d, set);
    if (!crl) return std::unexpected(crl.error());
    keys.crl = std::move(*crl);
  }
  return keys;
}

// Logs a server certificate that is not the set's (ca_generations.h ApplyCaSet).
void NoteServerCert(const CaSet& set, int64_t presented) {
  if (presented == set.server_gen) return;
  Log(Priority::kWarning, "server_cert_fallback",
      {{"want_gen", std::to_string(set.server_gen)},
       {"presented_gen", std::to_string(presented)},
       {"reason", "no server.crt in that generation's directory"}});
}

void Reload(Daemon& d) {
  sd::Notify("RELOADING=1");
  auto refuse = [&](const std::string& reason) {
    Log(Priority::kErr, "reload_refused", {{"reason", reason}, {"kept", "previous config"}});
    GlobalMetrics().reloads.Inc("refused");
    sd::Notify("READY=1\nSTATUS=" + Status("running (last reload refused)"));
  };
  auto next = ReparseServe(d.argv);
  if (!next) return refuse(next.error().detail);
  ReloadPlan plan = PlanReload(*d.config, next->config);
  auto material = LoadMaterial(plan.config);
  if (!material) return refuse(material.error().detail);
  if (material->ca_cert_pem != d.ca_cert_pem) {
    // ca.crt is generation 1, read once at start; a new one needs a restart.
    plan.restart_only.push_back("ca.crt");
    material->ca_cert_pem = d.ca_cert_pem;
  }
  // The store's CA generations: a rollover, activation or retirement since the last look.
  auto set = LoadCaSet(d.store->store(), d.ca_cert_pem);
  if (!set) return refuse(set.error().detail);
  auto server_gen = ApplyCaSet(*set, d.config->state_dir, *material);
  if (!server_gen) return refuse(server_gen.error().detail);
  const bool ca_changed = *set != d.ca_set;
  SetKeys keys;
  if (ca_changed) {
    auto found = KeysOf(d, *set);
    if (!found) return refuse(found.error().detail);
    keys = std::move(*found);
  }
  auto config = std::make_shared<const ServeConfig>(std::move(plan.config));
  if (auto r = d.server->Reload(config, *material, ca_changed ? &*set : nullptr, keys.active,
                                keys.previous);
      !r) {
    return refuse(r.error().detail);
  }
  if (ca_changed) {
    if (d.ca_key_probe) d.ca_key_probe->SetKeys(keys.probed);
    if (d.crl) {
      if (auto r = d.crl->SetGenerations(std::move(keys.crl)); !r) {
        Log(Priority::kErr, "crl_generations_kept", {{"reason", r.error().detail}});
      }
    }
    NoteServerCert(*set, *server_gen);
    Log(Priority::kNotice, "ca_generations_loaded",
        {{"active", std::to_string(set->active_gen)},
         {"newest", std::to_string(set->newest_gen)},
         {"server_cert_gen", std::to_string(*server_gen)}});
  }
  d.ca_set = std::move(*set);
  d.config = config;
  SetLogLevel(next->log_level);
  for (const auto& name : plan.restart_only) {
    Log(Priority::kWarning, "reload_ignored", {{"setting", name}, {"reason", "needs a restart"}});
  }
  Log(Priority::kNotice, "reloaded",
      {{"trust_files", std::to_string(material->trust_pems.size())},
       {"log_level", LogLevelName(next->log_level)},
       {"profiles", std::to_string(config->labeled_profiles.size() + 1)}});
  GlobalMetrics().reloads.Inc("ok");
  sd::Notify("READY=1\nSTATUS=" + Status("running"));
}

// Blocks until SIGTERM/SIGINT; handles SIGHUP, the watchdog and STATUS on the way.
int SignalLoop(Daemon& d, const sigset_t& signals) {
  auto watchdog = sd::WatchdogInterval();
  auto tick = std::chrono::duration_cast<std::chrono::milliseconds>(kStatusPeriod);
  if (watchdog) {
    tick = std::min(tick, std::chrono::duration_cast<std::chrono::milliseconds>(*watchdog / 2));
  }
  auto next_status = std::chrono::steady_clock::now() + kStatusPeriod;
  uint64_t last_beat = d.server->heartbeat();
  for (;;) {
    timespec ts{static_cast<time_t>(tick.count() / 1000),
                static_cast<long>(tick.count() % 1000) * 1000000};
    int sig = sigtimedwait(&signals, nullptr, &ts);
    if (sig == SIGHUP) {
      Reload(d);
    } else if (sig == SIGTERM || sig == SIGINT) {
      return sig;
    } else if (sig < 0 && errno != EAGAIN && errno != EINTR) {
      Log(Priority::kErr, "signal_wait_failed", {{"reason", std::strerror(errno)}});
      return SIGTERM;
    }
    // Ping only if every worker's loop went round since the last ping: a wedged worker stops
    // the pings and systemd restarts us (WatchdogSec=).
    if (watchdog) {
      uint64_t beat = d.server->heartbeat();
      if (beat != last_beat) sd::Notify("WATCHDOG=1");
      last_beat = beat;
    }
    if (std::chrono::steady_clock::now() >= next_status) {
      sd::Notify("STATUS=" + Status("running"));
      next_status = std::chrono::steady_clock::now() + kStatusPeriod;
    }
  }
}

base::Result<void> StartMetrics(Daemon& d, base::UniqueFd inherited_fd) {
  base::UniqueFd fd = std::move(inherited_fd);
  if (!fd && d.config->metrics_listen.empty()) return {};
  if (!fd) {
    auto bound = ListenTcp(d.config->metrics_listen, 16);
    if (!bound) return base::Fail(bound.error().code, "metrics-listen: " + bound.error().detail);
    fd = std::move(*bound);
  }
  MetricsHandlers handlers{
      .metrics =
          [&d] {
            std::string text = GlobalMetrics().Render();
            RenderDbMetrics(d.server->writer_stats(), d.server->writer_queue_depth(), &text);
            RenderStoreMetrics(db::GlobalStoreHealth().Get(), &text);
            if (d.ca_key_probe) {
              d.ca_key_probe->Render(&text);
            } else {
              RenderFileCaKeyMetrics(&text);
            }
            return text;
          },
      .health =
          [&d](std::string* reason) {
            if (d.draining) {
              *reason = "draining";
              return false;
            }
            if (d.ca_key_probe && !d.ca_key_probe->Healthy(reason)) return false;
            return StoreHealthy(db::GlobalStoreHealth().Get(), reason);
          },
  };
  auto http = MetricsHttp::Start(std::move(fd), std::move(handlers));
  if (!http) return std::unexpected(http.error());
  d.metrics_http = std::move(*http);
  // Not "listening on ...": that line names the EST address, and scripts look for it.
  Log(Priority::kNotice, "metrics_listening",
      {{"address", d.metrics_http->address()}, {"paths", "/metrics,/healthz"}});
  return {};
}

// The live CRL, on an inherited "crl" socket or --crl-listen; off when neither. Its thread has a
// store connection and a CaKey of its own.
base::Result<void> StartCrl(Daemon& d, base::UniqueFd inherited_fd) {
  base::UniqueFd fd = std::move(inherited_fd);
  if (!fd && d.config->crl_listen.empty()) return {};
  if (!fd) {
    auto bound = ListenTcp(d.config->crl_listen, 64);
    if (!bound) return base::Fail(bound.error().code, "crl-listen: " + bound.error().detail);
    fd = std::move(*bound);
  }
  auto store = d.store->OpenReader();
  if (!store) return base::Fail(base::Code::kIo, "crl: database: " + store.error().detail);
  // One CRL per generation still trusted, each signed by its own key (docs/rollover.md).
  auto generations = CrlGenerations(d, d.ca_set);
  if (!generations) return std::unexpected(generations.error());
  auto crl = CrlService::Start(std::move(*store), std::move(*generations),
                               CrlServiceOptions{.period = d.config->crl_period}, std::move(fd));
  if (!crl) return std::unexpected(crl.error());
  d.crl = std::move(*crl);
  Log(Priority::kNotice, "crl_listening",
      {{"address", d.crl->address()},
       {"paths", "/crl,/crl.pem"},
       {"period_s", std::to_string(d.config->crl_period.count())}});
  return {};
}

// Just below mbedTLS's record buffers (16 KiB of content plus headers).
constexpr int kTlsBufferMmapThreshold = 16 * 1024;

}  // namespace

int RunServe(const ServeConfig& initial, const StoreLocation& location,
             const std::vector<std::string>& argv) {
  // Signals are taken synchronously by this thread (SignalLoop). Block them before any thread
  // exists (the database writer, the workers, the metrics listener inherit the mask): a thread
  // that did not block SIGTERM or SIGHUP could receive it and die of its default action.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // Every TLS session allocates a 16 KiB input and a 16 KiB output record buffer and zeroes
  // both when it ends. From glibc's arenas, those pages stay with the process after a burst
  // (10,000 held handshakes left ~400 MB behind; docs/benchmarks.md, section 6); served by mmap,
  // munmap gives them back at once. Nothing else we allocate often is that large.
  mallopt(M_MMAP_THRESHOLD, kTlsBufferMmapThreshold);

  Daemon d;
  d.argv = argv;
  d.config = std::make_shared<const ServeConfig>(initial);
  auto material = LoadMaterial(*d.config);
  if (!material) return Fatal(material.error().detail);
  auto drbg = ca::Drbg::FromSystemEntropy();
  if (!drbg) return Fatal(drbg.error().detail);
  d.drbg = std::move(*drbg);
  auto ca_key = CaKeySource::Open(StatePaths(d.config->state_dir), d.config->ca_key, d.drbg->rng());
  if (!ca_key) return Fatal(ca_key.error().detail);
  d.ca_key = std::move(*ca_key);
  d.ca_cert_pem = material->ca_cert_pem;
  auto inherited = TakeInheritedSockets();
  if (!inherited) return Fatal(inherited.error().detail);
  auto store = ServeStore::Open(location);
  if (!store) return Fatal("database: " + store.error().detail);
  d.store = std::move(*store);
  auto ca_set = LoadCaSet(d.store->store(), d.ca_cert_pem);
  if (!ca_set) return Fatal(ca_set.error().detail);
  d.ca_set = std::move(*ca_set);
  auto server_gen = ApplyCaSet(d.ca_set, d.config->state_dir, *material);
  if (!server_gen) return Fatal(server_gen.error().detail);
  NoteServerCert(d.ca_set, *server_gen);
  auto keys = KeysOf(d, d.ca_set);
  if (!keys) return Fatal(keys.error().detail);
  if (auto r = ReportPendingIntents(d.store->store()); !r) {
    return Fatal("database: " + r.error().detail);
  }
  const bool est_from_systemd = static_cast<bool>(inherited->est);
  auto server =
      Server::Create(d.config, *material, *keys->active, *d.store, d.ca_set,
                     std::move(inherited->est), keys->previous);
  if (!server) return Fatal(server.error().detail);
  d.server = std::move(*server);
  if (d.ca_key->token()) d.ca_key_probe = std::make_unique<CaKeyProbe>(keys->probed);
  if (auto r = StartMetrics(d, std::move(inherited->metrics)); !r) return Fatal(r.error().detail);
  if (auto r = StartCrl(d, std::move(inherited->crl)); !r) return Fatal(r.error().detail);
  d.store_probe = std::make_unique<StoreProbe>(d.store->store(), db::GlobalStoreHealth());

  // Once start-up can no longer fail (a refused start prints its one error line), before the
  // workers accept.
  WarnIfFewFds(d.config->limits.max_connections);
  std::thread runner([&d] { d.server->Run(); });
  Log(Priority::kNotice, "listening on " + d.server->address(),
      {{"socket", est_from_systemd ? "systemd" : "bound"},
       {"trust_files", std::to_string(material->trust_pems.size())},
       {"store", location.label()},
       {"ca_key", d.ca_key->description()},
       {"client_auth", d.config->client_auth == ClientAuth::kRequired ? "required" : "optional"},
       {"journal", StderrIsJournal() ? "yes" : "no"}});
  sd::Notify("READY=1\nSTATUS=" + Status("running"));
  GlobalMetrics().ready.Set(1);
  if (!location.postgres()) {  // PostgreSQL checks its own pages as it reads them
    d.store_check =
        std::make_unique<BackgroundStoreCheck>(location.sqlite_path(), db::GlobalStoreHealth());
  }

  int sig = SignalLoop(d, signals);
  d.draining = true;
  GlobalMetrics().ready.Set(0);
  sd::Notify("STOPPING=1\nSTATUS=draining");
  Log(Priority::kNotice, "stopping",
      {{"signal", sig == SIGINT ? "INT" : "TERM"},
       {"in_flight", std::to_string(GlobalMetrics().connections_in_flight.Get())},
       {"drain_timeout_ms", std::to_string(d.config->drain_timeout.count())}});
  d.server->Drain(d.config->drain_timeout);
  runner.join();
  d.metrics_http.reset();
  d.crl.reset();
  d.store_check.reset();
  d.store_probe.reset();
  d.ca_key_probe.reset();
  d.server.reset();
  d.store.reset();  // closes the database (SQLite: WAL checkpoint) before we say we stopped
  Log(Priority::kNotice, "stopped");
  return 0;
}

}  // namespace provisiond
