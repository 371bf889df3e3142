#!/usr/bin/env bash
# run.sh — every measurement in docs/benchmarks.md, on this machine: runs bench/steps/*.sh in
# order (each measures one thing and writes a TSV into the results directory), then
# bench/render.py, which rewrites the part of docs/benchmarks.md between the "results" markers
# from those TSVs; the analysis around them is written by hand and quotes no figures.
#
#   bench/run.sh            all steps (about 15 minutes on 2 cores; not part of the test suite):
#                           a Release build in build-bench/, the crypto floor against `openssl
#                           speed`, the group-commit microbenchmark, the same workload on
#                           PostgreSQL and SQLite, provisiond under device-sim load at 3
#                           concurrency levels, 1 and 2 replicas on either store, a perf
#                           profile, TLS handshakes against `openssl s_server`, the daemon alone
#                           on a CPU, instructions under callgrind, 10k held connections, a
#                           connection flood, a slowloris
#   bench/run.sh STEP...    only these steps (e.g. 10_crypto 20_db), keeping the results
#                           directory's other TSVs, then the renderer (sections without a TSV
#                           are left out)
# Environment: BENCH_N1/BENCH_N64/BENCH_N1000 fleet sizes, BENCH_JOBS build parallelism,
# BENCH_BUILD_DIR (build-bench/), BENCH_RESULTS (<build dir>/run), BENCH_CRYPTO_SECONDS (1),
# BENCH_OPENSSL_SECONDS (2), BENCH_DB_SECONDS (2), BENCH_PG_SECONDS (5), BENCH_NREP (1500),
# BENCH_DOC the file to render into (docs/benchmarks.md).
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
STEPS=("$@")
if [ ${#STEPS[@]} -eq 0 ]; then
  rm -rf "$W"
  for s in "$ROOT"/bench/steps/[0-9]*.sh; do STEPS+=("$(basename "$s" .sh)"); done
fi
mkdir -p "$W"
for s in "${STEPS[@]}"; do
  f=$ROOT/bench/steps/${s%.sh}.sh
  [ -f "$f" ] || { echo "run.sh: no step $s (see bench/steps/)" >&2; exit 2; }
  say "step ${s%.sh}"
  bash "$f"
done
DOC=${BENCH_DOC:-$ROOT/docs/benchmarks.md}
python3 "$ROOT/bench/render.py" "$W" --doc "$DOC"
say "done: $DOC, docs/latency-histogram.png (TSVs and raw output in $W)"
