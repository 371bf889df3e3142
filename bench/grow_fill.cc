// grow_fill.cc — fills a SQLite store with N issuances through the store's own statements
// (db::Writer: Reserve, Complete, the issued event chained into the audit log), for the benchmark
// of costs that grow with the store (bench/steps/86_growth.sh, docs/benchmarks.md).
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <semaphore>
#include <string>
#include <string_view>

#include "bench/db_load.h"
#include "db/sqlite_store.h"
#include "db/writer.h"

namespace {

struct Options {
  std::string path;
  uint64_t count = 0;
  uint64_t first = 1'000'000;  // issuance numbers first .. first+count-1 (device-<n>)
  int inflight = 2048;
};

bool ParseArgs(int argc, char** argv, Options& options) {
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string_view flag = argv[i];
    std::string value = argv[i + 1];
    if (flag == "--db") {
      options.path = value;
    } else if (flag == "--count") {
      options.count = std::stoull(value);
    } else if (flag == "--first") {
      options.first = std::stoull(value);
    } else if (flag == "--inflight") {
      options.inflight = std::stoi(value);
    } else {
      return false;
    }
  }
  return argc % 2 == 1 && !options.path.empty() && options.count > 0 && options.inflight > 0 &&
         options.inflight <= 4096;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  bool parsed = false;
  try {
    parsed = ParseArgs(argc, argv, options);
  } catch (const std::exception&) {  // std::stoull on a non-number
  }
  if (!parsed) {
    std::fprintf(stderr, "usage: grow_fill --db PATH --count N [--first N] [--inflight K]\n");
    return 2;
  }
  auto store = db::SqliteStore::Open(options.path);
  if (!store) {
    std::fprintf(stderr, "grow_fill: %s\n", store.error().detail.c_str());
    return 1;
  }
  bench::next_issuance = options.first;
  std::atomic<uint64_t> failed{0}, done{0};
  bench::Clock::time_point start = bench::Clock::now();
  {
    db::Writer writer(**store, 8192, 4096);
    std::counting_semaphore<4096> slots(options.inflight);
    for (uint64_t i = 0; i < options.count; ++i) {
      slots.acquire();
      bench::SubmitIssuance(writer, [&](bool ok, double) {
        if (!ok) ++failed;
        uint64_t n = ++done;
        if (n % 100'000 == 0) {
          std::fprintf(stderr, "grow_fill: %llu issuances, %.1f s\n", (unsigned long long)n,
                       bench::Seconds(bench::Clock::now() - start));
        }
        slots.release();
      });
    }
    for (int i = 0; i < options.inflight; ++i) slots.acquire();
  }  // the writer drains and stops first
  double seconds = bench::Seconds(bench::Clock::now() - start);
  std::printf("filled\t%llu\tfailed\t%llu\tseconds\t%.1f\trate\t%.0f\n",
              (unsigned long long)options.count, (unsigned long long)failed.load(), seconds,
              double(options.count) / seconds);
  return failed == 0 ? 0 : 1;
}
