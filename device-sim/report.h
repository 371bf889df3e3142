// report.h — what a fleet run prints: the live progress line (terminals only), the summary
// (first line unchanged since the first device-sim, scripts grep it; then a per-class table),
// the per-device failure lines for stderr, and the --json document.
#pragma once

#include <string>
#include <string_view>

#include "device-sim/fleet.h"

namespace devsim {

// "enroll 1234/10000 412.3/s in-flight 50 failed: good=0 replay=3" — failures for each class
// of the mix. total 0 prints "1234/?".
std::string FormatProgress(std::string_view command, const Progress& progress,
                           const MixWeights& mix);

// "<command>: ok=<n> failed=<m> elapsed=<s.ss>s rate=<r.r>/s" where ok counts enrollments that
// got their class's expected outcome and rate is ok per second; then the class table (ok,
// failed, throughput, latency p50/p90/p99/max in ms), the unexpected outcomes by class and
// text, client CPU, and the slow connections' fate if --slow was given.
std::string FormatSummary(std::string_view command, const FleetReport& report);

// Stderr detail, one line per listed failure: "device <id>: <outcome>" for class good (the
// historical form) and "device <id>: <outcome> (<class>, expected <what>)" for the others.
std::string FormatFailures(const FleetReport& report);

// The --json document: settings, totals, per class ok/failed/retries/unexpected, latency
// summary and histogram (log-spaced buckets, kHistogramBoundsMs), slow connections, failures.
std::string FormatJson(std::string_view command, const FleetReport& report);

}  // namespace devsim
