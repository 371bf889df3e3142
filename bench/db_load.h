// db_load.h — the issuance workload of the store benchmarks (db_bench, store_bench): rows shaped
// like the daemon's, submitters keeping requests in flight, and the writer thread's CPU clock.
#pragma once

#include <time.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "db/records.h"
#include "db/writer.h"

namespace bench {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d);

// An event row as the daemon writes it; `serial` empty for a refusal.
db::EventRecord Event(const std::string& outcome, const std::string& serial);
// Issuance n: its own serial, key, device and bootstrap certificate (no policy refusal).
db::Intent IntentFor(uint64_t n);
db::CertificateRecord CertificateFor(const db::Intent& intent);

// Issuance numbers, never reused within a process (serials are unique). A process that writes
// into a database that already has rows starts elsewhere (store_bench --first).
extern std::atomic<uint64_t> next_issuance;

struct LoadShape {
  double seconds = 5;
  int threads = 8;
  int inflight = 32;  // requests each submitting thread keeps in flight (connections per worker)
};

// `start_one(thread, done)` begins one request for submitting thread `thread` and must eventually
// call done() exactly once. Runs for shape.seconds, then waits for every request in flight.
// Returns the requests finished.
uint64_t RunLoad(const LoadShape& shape, std::function<void(int, std::function<void()>)> start_one);

// One issuance through `writer`: SubmitReserve, then (from its callback, on the writer thread, as
// a worker would after signing) SubmitComplete. `finished(ok, latency_ms)` is called once: from
// the writer thread, or at once if the writer refused the submission.
void SubmitIssuance(db::Writer& writer, std::function<void(bool, double)> finished);

// The CPU-time clock of the writer's thread, learnt from a done callback (which runs on it).
// Submits one event. CLOCK_MONOTONIC (never a CPU clock) if that fails.
clockid_t WriterCpuClock(db::Writer& writer);
double CpuMs(clockid_t clock);

}  // namespace bench
