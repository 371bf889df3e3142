#!/usr/bin/env bash
# fuzz.sh [SECONDS] [TARGET...] — builds the libFuzzer targets with clang (ASan + UBSan) in
# build-fuzz/, generates seed corpora, and runs each target for SECONDS (default 60), one target
# per CPU at a time. Exits non-zero if any target found something; crash inputs are left in
# build-fuzz/findings/. BUILD_ONLY=1: only the build.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(http_request_fuzz est_body_fuzz csr_fuzz trust_store_fuzz config_fuzz
  client_chain_fuzz proxy_header_fuzz pkcs11_uri_fuzz manifest_fuzz)

cxx=""
for v in 19 18 17 16; do command -v "clang++-$v" >/dev/null && { cxx=clang++-$v; cc=clang-$v; break; }; done
[ -n "$cxx" ] || { echo "fuzz.sh: needs clang++ >= 16 (scripts/install-deps.sh installs it)" >&2; exit 1; }
mkdir -p build-fuzz
exec {lock}>build-fuzz/.build.lock
flock "$lock"  # one build at a time: .ci/run's background one (BUILD_ONLY) and this
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPROVISIOND_FUZZ=ON -DBUILD_TESTING=OFF >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target "${targets[@]}"
exec {lock}>&-
[ "${BUILD_ONLY:-0}" = 1 ] && exit 0  # .ci/run builds the targets while the plain suite runs
rm -rf build-fuzz/corpus && fuzz/make_corpus.sh build-fuzz/corpus
mkdir -p build-fuzz/findings
# Targets run side by side, one per CPU, each for SECONDS of its own (CI time is bounded).
run_one() {
  local rc=0
  build-fuzz/fuzz/"$1" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix=build-fuzz/findings/"$1"- -print_final_stats=1 \
    build-fuzz/corpus/"$1" > build-fuzz/"$1".log 2>&1 || rc=$?
  echo "$rc" > build-fuzz/"$1".rc
}
rm -f build-fuzz/*.rc
jobs_max=$(nproc)
for t in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n || true; done
  echo "== $t: ${seconds}s"
  run_one "$t" &
done
wait
passed=0 failed=0
for t in "${targets[@]}"; do
  if [ "$(cat build-fuzz/"$t".rc)" = 0 ]; then
    passed=$((passed + 1))
    echo "== $t:"; grep -E 'stat::number_of_executed_units|cov:' build-fuzz/"$t".log | tail -2
  else
    failed=$((failed + 1))
    echo "FINDING in $t:"; tail -40 build-fuzz/"$t".log
  fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
