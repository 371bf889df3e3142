// db_bench.cc — measures durable writes through db::Writer (group commit, synchronous=FULL) on a
// real file, against the cost of one fsync and of one-transaction-per-row commits.
//
//   db_bench [--seconds S] [--threads T] [--inflight N] [--dir DIR]
//
// DIR (default: the current directory) should be on the disk the daemon's state will live on:
// the numbers are mostly that disk's fsync latency. A fresh temp dir under DIR is removed after.
// The writer thread's CPU time per operation (not waiting for fsync) is reported separately: it
// is what bounds throughput once the disk is fast or the batches are large.
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "bench/db_load.h"
#include "db/sqlite_store.h"
#include "db/store.h"
#include "db/writer.h"

namespace {

using bench::Clock;
using bench::CpuMs;
using bench::Event;
using bench::Seconds;

struct Options {
  bench::LoadShape shape;
  std::string dir = ".";
};

// The floor under every durable commit: write 4 KiB and fdatasync, repeatedly, for ~1 s.
void MeasureFsync(const std::string& dir) {
  std::string path = dir + "/fsync.probe";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    std::printf("fsync probe: open failed: %s\n", std::strerror(errno));
    return;
  }
  std::vector<char> block(4096, 'x');
  int calls = 0;
  Clock::time_point start = Clock::now();
  while (Seconds(Clock::now() - start) < 1.0) {
    if (::pwrite(fd, block.data(), block.size(), 0) < 0 || ::fdatasync(fd) != 0) break;
    ++calls;
  }
  double elapsed = Seconds(Clock::now() - start);
  ::close(fd);
  ::unlink(path.c_str());
  std::printf("fdatasync 4 KiB            : %6d calls in %.1f s, %.3f ms each\n", calls, elapsed,
              calls > 0 ? elapsed * 1000 / calls : 0.0);
}

// One transaction (one fsync) per row, as Store::RecordEvent does without the Writer.
void MeasureSingleCommits(db::Store& store, double seconds) {
  int commits = 0;
  Clock::time_point start = Clock::now();
  while (Seconds(Clock::now() - start) < seconds) {
    if (!store.RecordEvent(Event("rejected", ""))) break;
    ++commits;
  }
  double elapsed = Seconds(Clock::now() - start);
  std::printf("one commit per event       : %6.0f events/s (1 thread, %.3f ms per commit)\n",
              commits / elapsed, elapsed * 1000 / std::max(commits, 1));
}

// The writer thread's CPU time per operation since `cpu_ms_before` (clock from WriterCpuClock).
void PrintWriterCpu(clockid_t clock, double cpu_ms_before, const db::Writer::Stats& before,
                    const db::Writer::Stats& after) {
  uint64_t ops = after.operations - before.operations;
  double cpu_ms = CpuMs(clock) - cpu_ms_before;
  std::printf("    writer thread CPU: %.0f ms for %llu operations = %.1f us per operation\n",
              cpu_ms, static_cast<unsigned long long>(ops),
              ops > 0 ? cpu_ms * 1000 / double(ops) : 0.0);
}

void PrintWriterStats(const db::Writer::Stats& before, const db::Writer::Stats& after) {
  uint64_t batches = after.batches - before.batches;
  uint64_t ops = after.operations - before.operations;
  uint64_t ok_batches = batches - (after.commit_failures - before.commit_failures);
  double mean_commit =
      ok_batches > 0 ? (after.total_commit_ms - before.total_commit_ms) / ok_batches : 0;
  std::printf(
      "    %llu transactions, %.1f operations each (largest %llu), COMMIT %.3f ms mean, "
      "%.3f ms max since start, %llu failed\n",
      static_cast<unsigned long long>(batches), batches > 0 ? double(ops) / batches : 0.0,
      static_cast<unsigned long long>(after.largest_batch), mean_commit, after.max_commit_ms,
      static_cast<unsigned long long>(after.commit_failures - before.commit_failures));
  std::printf("    COMMIT ms histogram:");
  for (size_t i = 0; i < after.commit_ms_histogram.size(); ++i) {
    uint64_t n = after.commit_ms_histogram[i] - before.commit_ms_histogram[i];
    if (n == 0) continue;
    if (i < db::Writer::kCommitBucketsMs.size()) {
      std::printf(" <%g:%llu", db::Writer::kCommitBucketsMs[i], static_cast<unsigned long long>(n));
    } else {
      std::printf(" >=%g:%llu", db::Writer::kCommitBucketsMs.back(),
                  static_cast<unsigned long long>(n));
    }
  }
  std::printf("\n");
}

// Latencies are appended from done callbacks, which all run on the writer thread.
void PrintLatency(std::vector<double>& latencies_ms) {
  if (latencies_ms.empty()) return;
  std::sort(latencies_ms.begin(), latencies_ms.end());
  auto at = [&](double q) { return latencies_ms[size_t(q * double(latencies_ms.size() - 1))]; };
  std::printf("    submit-to-durable latency ms: p50 %.2f  p99 %.2f  max %.2f\n", at(0.5), at(0.99),
              latencies_ms.back());
}

void MeasureIssuances(db::Store& store, db::Writer& writer, clockid_t writer_cpu,
                      const bench::LoadShape& shape) {
  std::atomic<uint64_t> failures{0};
  std::vector<double> latencies_ms;  // appended from done callbacks: all on the writer thread
  db::Writer::Stats before = writer.stats();
  double cpu_ms_before = CpuMs(writer_cpu);
  int64_t certs_before = store.CountCertificates().value_or(0);
  Clock::time_point start = Clock::now();
  bench::RunLoad(shape, [&](int, std::function<void()> finished) {
    bench::SubmitIssuance(writer, [&, finished](bool ok, double latency_ms) {
      if (ok) {
        latencies_ms.push_back(latency_ms);
      } else {
        ++failures;
      }
      finished();
    });
  });
  double elapsed = Seconds(Clock::now() - start);
  int64_t issued = store.CountCertificates().value_or(0) - certs_before;
  std::printf(
      "writer: reserve + complete : %6.0f issuances/s = %.0f row inserts/s "
      "(%lld issued, %llu failed; %d threads x %d in flight, %.1f s)\n",
      issued / elapsed, 3 * issued / elapsed, static_cast<long long>(issued),
      static_cast<unsigned long long>(failures.load()), shape.threads, shape.inflight, elapsed);
  db::Writer::Stats after = writer.stats();
  PrintWriterStats(before, after);
  PrintWriterCpu(writer_cpu, cpu_ms_before, before, after);
  PrintLatency(latencies_ms);
}

void MeasureEvents(db::Writer& writer, clockid_t writer_cpu, const bench::LoadShape& shape) {
  std::atomic<uint64_t> failures{0};
  std::vector<double> latencies_ms;
  db::Writer::Stats before = writer.stats();
  double cpu_ms_before = CpuMs(writer_cpu);
  Clock::time_point start = Clock::now();
  uint64_t done = bench::RunLoad(shape, [&](int, std::function<void()> finished) {
    Clock::time_point submitted = Clock::now();
    bool queued = writer.SubmitEvent(
        Event("rejected", ""), [&, finished, submitted](db::Result<void> recorded) {
          if (!recorded) ++failures;
          latencies_ms.push_back(Seconds(Clock::now() - submitted) * 1000);
          finished();
        });
    if (!queued) {
      ++failures;
      finished();
    }
  });
  double elapsed = Seconds(Clock::now() - start);
  std::printf(
      "writer: events             : %6.0f events/s (%llu, %llu failed; %d threads x %d in "
      "flight, %.1f s)\n",
      (done - failures.load()) / elapsed, static_cast<unsigned long long>(done),
      static_cast<unsigned long long>(failures.load()), shape.threads, shape.inflight, elapsed);
  db::Writer::Stats after = writer.stats();
  PrintWriterStats(before, after);
  PrintWriterCpu(writer_cpu, cpu_ms_before, before, after);
  PrintLatency(latencies_ms);
}

bool ParseArgs(int argc, char** argv, Options& options) {
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    std::string value = argv[i + 1];
    if (flag == "--seconds") {
      options.shape.seconds = std::stod(value);
    } else if (flag == "--threads") {
      options.shape.threads = std::stoi(value);
    } else if (flag == "--inflight") {
      options.shape.inflight = std::clamp(std::stoi(value), 1, 1024);
    } else if (flag == "--dir") {
      options.dir = value;
    } else {
      return false;
    }
  }
  return argc % 2 == 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!ParseArgs(argc, argv, options)) {
    std::fprintf(stderr,
                 "usage: db_bench [--seconds S] [--threads T] [--inflight N] [--dir DIR]\n");
    return 2;
  }
  std::string pattern = options.dir + "/db_bench.XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    std::fprintf(stderr, "mkdtemp(%s): %s\n", pattern.c_str(), std::strerror(errno));
    return 1;
  }
  std::string dir = pattern;
  std::printf("db_bench in %s (synchronous=FULL, WAL)\n", dir.c_str());
  {
    auto store = db::SqliteStore::Open(dir + "/store.db");
    if (!store) {
      std::fprintf(stderr, "SqliteStore::Open: %s\n", store.error().detail.c_str());
      return 1;
    }
    MeasureFsync(dir);
    MeasureSingleCommits(**store, 2.0);
    {
      db::Writer writer(**store);
      clockid_t writer_cpu = bench::WriterCpuClock(writer);
      MeasureIssuances(**store, writer, writer_cpu, options.shape);
      MeasureEvents(writer, writer_cpu, options.shape);
      bench::LoadShape one = options.shape;
      one.inflight = 1;
      MeasureIssuances(**store, writer, writer_cpu, one);
      MeasureEvents(writer, writer_cpu, one);
    }
    auto report = (*store)->VerifyAuditChain();
    std::printf("audit chain: %s, %lld rows\n", report && report->ok ? "ok" : "BROKEN",
                report ? static_cast<long long>(report->rows_checked) : -1LL);
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  return 0;
}
