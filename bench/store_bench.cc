// store_bench.cc — durable issuances through db::Writer on either engine (--store, as the daemon
// takes it), with W writers standing for W replicas on one database, one TSV row per run.
//
//   store_bench --store URL [--seconds S] [--threads T] [--inflight N] [--writers W]
//               [--server-pid PID] [--mark] [--label NAME] [--tsv FILE]
//
// Each writer has its own store object and connection, as each replica has; the T submitting
// threads are spread over the writers. --server-pid: the database server's CPU (utime+stime of
// PID and its live children, plus what PID collected from children that exited) across the load
// only. --mark (PostgreSQL): a statement on a connection of its own right before and right after
// the load ("SELECT 'store_bench load begins'" / "... ends"), so that with log_statement=all the
// server log's statements in between are the load's own (bench/steps/25_pg_db.sh counts them).
#include <libpq-fe.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "bench/db_load.h"
#include "db/pg_store.h"
#include "db/pg_writer.h"
#include "db/sqlite_store.h"
#include "db/store_url.h"
#include "db/writer.h"

namespace {

struct Options {
  bench::LoadShape shape;
  std::string store;
  int writers = 1;
  int server_pid = 0;
  bool mark = false;
  std::string label = "run";
  std::string tsv;
};

// One replica's side: its store object and its writer (destroyed writer first).
struct Replica {
  std::unique_ptr<db::Store> store;
  std::unique_ptr<db::Writer> writer;
  clockid_t cpu = CLOCK_MONOTONIC;
};

// utime+stime (+cutime+cstime when `children`) of a /proc/<pid>/stat; -1 if unreadable.
long long StatTicks(const std::string& path, bool children, int* ppid) {
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t paren = text.rfind(')');
  if (paren == std::string::npos) return -1;
  std::istringstream fields(text.substr(paren + 2));  // field 3 (state) onwards
  std::vector<std::string> f;
  for (std::string v; fields >> v && f.size() < 15;) f.push_back(v);
  if (f.size() < 15) return -1;
  if (ppid != nullptr) *ppid = std::stoi(f[1]);             // field 4
  long long ticks = std::stoll(f[11]) + std::stoll(f[12]);  // fields 14, 15
  if (children) ticks += std::stoll(f[13]) + std::stoll(f[14]);
  return ticks;
}

// The server's CPU ticks so far: PID's own and its children's, live or exited.
long long ServerTicks(int pid) {
  if (pid <= 0) return 0;
  long long total =
      std::max(0LL, StatTicks("/proc/" + std::to_string(pid) + "/stat", true, nullptr));
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    int ppid = 0;
    long long ticks = StatTicks(entry.path().string() + "/stat", false, &ppid);
    if (ticks >= 0 && ppid == pid) total += ticks;
  }
  return total;
}

db::Result<Replica> OpenReplica(const db::StoreUrl& url) {
  Replica replica;
  if (url.engine == db::StoreUrl::Engine::kSqlite) {
    auto store = db::SqliteStore::Open(url.sqlite_path);
    if (!store) return std::unexpected(store.error());
    replica.writer = std::make_unique<db::Writer>(**store);
    replica.store = std::move(*store);
  } else {
    auto store = db::PgStore::Open(url.conninfo);
    if (!store) return std::unexpected(store.error());
    auto writer = db::PgWriter::Start(**store);
    if (!writer) return std::unexpected(writer.error());
    replica.writer = std::move(*writer);
    replica.store = std::move(*store);
  }
  replica.cpu = bench::WriterCpuClock(*replica.writer);
  return replica;
}

// Runs `sql` on a connection of its own (the --mark statements). False with a line on stderr.
bool Mark(const std::string& conninfo, const char* sql) {
  std::unique_ptr<PGconn, void (*)(PGconn*)> conn(PQconnectdb(conninfo.c_str()), PQfinish);
  std::unique_ptr<PGresult, void (*)(PGresult*)> result(PQexec(conn.get(), sql), PQclear);
  if (PQresultStatus(result.get()) != PGRES_TUPLES_OK) {
    std::fprintf(stderr, "store_bench: --mark: %s", PQerrorMessage(conn.get()));
    return false;
  }
  return true;
}

struct Totals {
  db::Writer::Stats stats;
  double writer_cpu_ms = 0;
};

Totals Sum(std::vector<Replica>& replicas) {
  Totals t;
  for (Replica& r : replicas) {
    db::Writer::Stats s = r.writer->stats();
    t.stats.batches += s.batches;
    t.stats.operations += s.operations;
    t.stats.commit_failures += s.commit_failures;
    t.stats.total_commit_ms += s.total_commit_ms;
    t.stats.total_begin_ms += s.total_begin_ms;
    t.stats.total_locked_ms += s.total_locked_ms;
    t.stats.max_locked_ms = std::max(t.stats.max_locked_ms, s.max_locked_ms);
    t.writer_cpu_ms += bench::CpuMs(r.cpu);
  }
  return t;
}

struct Figures {
  uint64_t issued = 0;
  uint64_t failed = 0;
  double elapsed = 0;
  Totals before, after;
  long long server_ticks = 0;
  std::vector<double> latencies_ms;
};

Figures Measure(std::vector<Replica>& replicas, const Options& options) {
  Figures f;
  std::mutex mu;  // latencies and counts come from every writer's thread
  f.before = Sum(replicas);
  long long ticks_before = ServerTicks(options.server_pid);
  bench::Clock::time_point start = bench::Clock::now();
  bench::RunLoad(options.shape, [&](int thread, std::function<void()> finished) {
    db::Writer& writer = *replicas[size_t(thread) % replicas.size()].writer;
    bench::SubmitIssuance(writer, [&, finished](bool ok, double latency_ms) {
      {
        std::lock_guard lock(mu);
        if (ok) {
          ++f.issued;
          f.latencies_ms.push_back(latency_ms);
        } else {
          ++f.failed;
        }
      }
      finished();
    });
  });
  f.elapsed = bench::Seconds(bench::Clock::now() - start);
  f.server_ticks = ServerTicks(options.server_pid) - ticks_before;
  f.after = Sum(replicas);
  return f;
}

std::string Fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

constexpr const char* kColumns[] = {"run",
                                    "engine",
                                    "writers",
                                    "threads",
                                    "inflight",
                                    "seconds",
                                    "issued",
                                    "failed",
                                    "issuances_per_s",
                                    "transactions",
                                    "ops_per_txn",
                                    "begin_ms",
                                    "locked_ms",
                                    "locked_max_ms",
                                    "commit_ms",
                                    "writer_cpu_us_per_issuance",
                                    "p50_ms",
                                    "p99_ms",
                                    "server_cpu_ticks"};

std::vector<std::string> Row(const Options& o, const std::string& engine, Figures& f) {
  const db::Writer::Stats &a = f.after.stats, &b = f.before.stats;
  double txns = double(a.batches - b.batches);
  double ok = txns - double(a.commit_failures - b.commit_failures);
  auto per_ok = [ok](double total) { return ok > 0 ? total / ok : 0.0; };
  std::sort(f.latencies_ms.begin(), f.latencies_ms.end());
  auto at = [&](double q) {
    return f.latencies_ms.empty() ? 0.0
                                  : f.latencies_ms[size_t(q * double(f.latencies_ms.size() - 1))];
  };
  double issued = double(f.issued);
  return {
      o.label,
      engine,
      std::to_string(o.writers),
      std::to_string(o.shape.threads),
      std::to_string(o.shape.inflight),
      Fixed(f.elapsed, 2),
      std::to_string(f.issued),
      std::to_string(f.failed),
      Fixed(issued / f.elapsed, 0),
      Fixed(txns, 0),
      Fixed(txns > 0 ? double(a.operations - b.operations) / txns : 0, 2),
      Fixed(per_ok(a.total_begin_ms - b.total_begin_ms), 3),
      Fixed(per_ok(a.total_locked_ms - b.total_locked_ms), 3),
      Fixed(a.max_locked_ms, 3),
      Fixed(per_ok(a.total_commit_ms - b.total_commit_ms), 3),
      Fixed(issued > 0 ? (f.after.writer_cpu_ms - f.before.writer_cpu_ms) * 1000 / issued : 0, 1),
      Fixed(at(0.5), 2),
      Fixed(at(0.99), 2),
      std::to_string(f.server_ticks)};
}

void Emit(const Options& options, const std::vector<std::string>& row) {
  std::string line;
  for (const std::string& v : row) line += (line.empty() ? "" : "\t") + v;
  std::printf("%s\n", line.c_str());
  if (options.tsv.empty()) return;
  bool fresh =
      !std::filesystem::exists(options.tsv) || std::filesystem::file_size(options.tsv) == 0;
  std::ofstream out(options.tsv, std::ios::app);
  if (fresh) {
    std::string header;
    for (const char* c : kColumns) header += (header.empty() ? "" : "\t") + std::string(c);
    out << header << "\n";
  }
  out << line << "\n";
}

bool ParseArgs(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "--mark") {
      o.mark = true;
      continue;
    }
    if (i + 1 >= argc) return false;
    std::string value = argv[++i];
    if (flag == "--store")
      o.store = value;
    else if (flag == "--seconds")
      o.shape.seconds = std::stod(value);
    else if (flag == "--threads")
      o.shape.threads = std::clamp(std::stoi(value), 1, 1024);
    else if (flag == "--inflight")
      o.shape.inflight = std::clamp(std::stoi(value), 1, 1024);
    else if (flag == "--writers")
      o.writers = std::clamp(std::stoi(value), 1, 64);
    else if (flag == "--server-pid")
      o.server_pid = std::stoi(value);
    else if (flag == "--label")
      o.label = value;
    else if (flag == "--tsv")
      o.tsv = value;
    else
      return false;
  }
  return !o.store.empty();
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  bool parsed = false;
  try {
    parsed = ParseArgs(argc, argv, options);
  } catch (const std::exception&) {  // std::stoi/stod on a non-number
  }
  if (!parsed) {
    std::fprintf(stderr,
                 "usage: store_bench --store URL [--seconds S] [--threads T] [--inflight N] "
                 "[--writers W] [--server-pid PID] [--mark] [--label NAME] [--tsv FILE]\n");
    return 2;
  }
  auto url = db::ParseStoreUrl(options.store);
  if (!url) {
    std::fprintf(stderr, "store_bench: %s\n", url.error().detail.c_str());
    return 2;
  }
  bool pg = url->engine == db::StoreUrl::Engine::kPostgres;
  if (pg) {
    if (auto migrated = db::PgStore::Migrate(url->conninfo); !migrated) {
      std::fprintf(stderr, "store_bench: migrate: %s\n", migrated.error().detail.c_str());
      return 1;
    }
  }
  // Serials are unique across runs into the same database: each run starts at the clock's µs.
  bench::next_issuance = uint64_t(std::chrono::duration_cast<std::chrono::microseconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count());
  std::vector<Replica> replicas;
  for (int w = 0; w < options.writers; ++w) {
    auto replica = OpenReplica(*url);
    if (!replica) {
      std::fprintf(stderr, "store_bench: %s: %s\n", url->label.c_str(),
                   replica.error().detail.c_str());
      return 1;
    }
    replicas.push_back(std::move(*replica));
  }
  bool marked = !options.mark || !pg || Mark(url->conninfo, "SELECT 'store_bench load begins'");
  Figures figures = Measure(replicas, options);
  if (marked && options.mark && pg) marked = Mark(url->conninfo, "SELECT 'store_bench load ends'");
  if (!marked) return 1;
  Emit(options, Row(options, pg ? "postgresql" : "sqlite", figures));
  return figures.failed == 0 ? 0 : 1;
}
