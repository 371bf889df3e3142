#!/usr/bin/env bash
# test-sanitizers.sh — the proofs CI adds to the plain test run:
#   ASan + UBSan: the whole test suite (unit and end-to-end, daemon and device-sim instrumented),
#     except the tests that run none of the project's compiled code (see the ctest line)
#   TSan: the concurrency tests (writer, policy races, fleets, kill -9 loop, restarts under
#     load); only the binaries they run are built
#   valgrind memcheck: the daemon during the curl/openssl enrollment test
# Any report fails the run: sanitizers abort or exit non-zero, the e2e harness greps the daemon
# log and checks its exit status (tests/e2e/lib.sh).
# BUILD_ONLY=1: only the two sanitizer builds, without the dependencies and the plain build (.ci/run
# makes them while the plain suite runs, after scripts/build.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
build_only=${BUILD_ONLY:-0}
[ "$build_only" = 1 ] || scripts/build.sh >/dev/null  # dependencies and the plain build (valgrind)

# build DIR SANITIZERS OPT [TARGET...]: every target unless some are named. One build of a
# directory at a time (flock): this script's and .ci/run's background one (BUILD_ONLY) wait for
# each other.
build() {
  local dir=$1 sanitize=$2 opt=$3 lock
  shift 3
  mkdir -p "$dir"
  exec {lock}>"$dir/.build.lock"
  flock "$lock"
  # -g1: line tables, all a sanitizer report uses (file:line of every frame, inlined ones too);
  # full -g cost about 25% more compile CPU (two files measured under ASan+UBSan).
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPROVISIOND_WERROR=ON \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$opt -g1 -DNDEBUG" -DPROVISIOND_SANITIZE="$sanitize" >/dev/null
  if [ $# -gt 0 ]; then
    cmake --build "$dir" -j"$(nproc)" --target "$@"
  else
    cmake --build "$dir" -j"$(nproc)"
  fi
  exec {lock}>&-
}

export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export LSAN_OPTIONS=suppressions=$PWD/scripts/lsan.supp
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
# ASan+UBSan at -Og: GCC's optimiser, not the checks, makes this CI's longest build; -Og compiled
# three files in 0.35-0.49 of -O2's CPU (-O1: 0.64-0.70). The suite's time is mostly mbedTLS,
# SQLite, PostgreSQL and waits, none of them built here. ASan instruments memory accesses at
# every level (fewer are optimised away at -Og); UBSan's checks come from the front end, except
# object-size, which relies on the optimiser's object sizes and may see fewer at -Og.
build build-asan address,undefined -Og
# TSan: only what its regex below runs: db_tests (the db/ cases) and the e2e tests' provisiond and
# device-sim; ctest lists the other test binaries as *_NOT_BUILT, which the regex leaves out.
build build-tsan thread -O2 db_tests provisiond device-sim
[ "$build_only" = 1 ] && exit 0

# Not e2e/systemd_container(_deb): they check the installed unit (its sandbox, 2 s stop and watchdog
# timings) with the plain build in scripts/test.sh; an ASan binary under that sandbox would need
# its own container root and tests the sanitizer, not the unit.
# Nor the tests that run none of the project's compiled code, which the plain run already proves:
# deps/* (include arrows, on the sources), bench/render (Python), e2e/ops_alert_rules (promtool on
# the shipped rules), e2e/deb_package (cpack, lintian and dpkg on the package; of the binaries it
# packs it runs only `provisiond --help`, which e2e/cli_bad_input runs here too).
ctest --test-dir build-asan --output-on-failure -j"$(nproc)" \
  -E '^(e2e/systemd_container(_deb)?|deps/.*|bench/render|e2e/ops_alert_rules|e2e/deb_package)$'

ctest --test-dir build-tsan --output-on-failure -j"$(nproc)" \
  -R '^(db/.*([Ww]riter|concurren|race|threads)|e2e/(fleet_mix|lifecycle_policy|crash_kill9|device_sim_enroll|restart_held_socket))'

DAEMON_WRAPPER="valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite" \
  ctest --test-dir build --output-on-failure -R '^e2e/openssl_curl_enroll$'
echo "sanitizers: ASan+UBSan, TSan and valgrind runs clean"
