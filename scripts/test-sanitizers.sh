#!/usr/bin/env bash
# test-sanitizers.sh — the proofs CI adds to the plain test run:
#   ASan + UBSan: the whole test suite (unit and end-to-end, daemon and device-sim instrumented)
#   TSan: the concurrency tests (writer, policy races, fleets, kill -9 loop)
#   valgrind memcheck: the daemon during the curl/openssl enrollment test
# Any report fails the run: sanitizers abort or exit non-zero, the e2e harness greps the daemon
# log and checks its exit status (tests/e2e/lib.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh >/dev/null  # dependencies and the plain build (used by the valgrind step)

build() {  # build DIR SANITIZERS
  cmake -S . -B "$1" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPROVISIOND_WERROR=ON \
    -DPROVISIOND_SANITIZE="$2" >/dev/null
  cmake --build "$1" -j"$(nproc)"
}

export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export LSAN_OPTIONS=suppressions=$PWD/scripts/lsan.supp
build build-asan address,undefined
# Not e2e/systemd_container(_deb): they check the installed unit (its sandbox, 2 s stop and watchdog
# timings) with the plain build in scripts/test.sh; an ASan binary under that sandbox would need
# its own container root and tests the sanitizer, not the unit.
ctest --test-dir build-asan --output-on-failure -j"$(nproc)" -E '^e2e/systemd_container(_deb)?$'

export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
build build-tsan thread
ctest --test-dir build-tsan --output-on-failure -j"$(nproc)" \
  -R '^(db/.*([Ww]riter|concurren|race|threads)|e2e/(fleet_mix|lifecycle_policy|crash_kill9|device_sim_enroll))'

DAEMON_WRAPPER="valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite" \
  ctest --test-dir build --output-on-failure -R '^e2e/openssl_curl_enroll$'
echo "sanitizers: ASan+UBSan, TSan and valgrind runs clean"
