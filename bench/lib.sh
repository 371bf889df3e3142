# lib.sh — shared by bench/run.sh and bench/steps/*.sh: the run's settings, the daemon and
# device-sim helpers, and the writers of the results directory's TSV files (header row first).
# Sourced, not run. Every step measures; bench/render.py turns the TSVs into markdown.
# shellcheck shell=bash

# shellcheck disable=SC2034  # the settings are used by the steps that source this file
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
B=${BENCH_BUILD_DIR:-$ROOT/build-bench}
W=${BENCH_RESULTS:-$B/run}  # the results directory: TSVs, logs, fleets, state
N1=${BENCH_N1:-200}
N64=${BENCH_N64:-2000}
N1000=${BENCH_N1000:-4000}
NCMP=3000    # each of the 4 runs of the slowloris comparison (baseline, slow, baseline, slow):
             # long enough (~17 s) for the daemon to time the slow connections out and see them back
NPERF=1000
NREC=200
NCG=60       # enrollments under callgrind
CRYPTO_SECONDS=${BENCH_CRYPTO_SECONDS:-1}  # crypto_floor --seconds (per operation)
OPENSSL_SECONDS=${BENCH_OPENSSL_SECONDS:-2}
DB_SECONDS=${BENCH_DB_SECONDS:-2}
PG_SECONDS=${BENCH_PG_SECONDS:-5}  # each store_bench run of 25_pg_db
NREP=${BENCH_NREP:-1500}           # devices per device-sim run of 35_replicas
P=$B/daemon/provisiond
SIM=$B/device-sim/device-sim
HZ=$(getconf CLK_TCK)
# The fleets, name:size; each gets its own factory CA, all trusted by every daemon.
FLEETS=(c1:"$N1" c64:"$N64" c1000:"$N1000" base1:"$NCMP" slow1:"$NCMP" base2:"$NCMP" slow2:"$NCMP"
  slowonly:20 perf:"$NPERF" rec:"$NREC" cg:"$NCG" pin1:"$N64" pin2:"$N64"
  rs1:"$NREP" rp1:"$NREP" rs2a:"$NREP" rs2b:"$NREP" rp2a:"$NREP" rp2b:"$NREP")

say() { echo "== $*" >&2; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
jnum() { jq -r "$2" "$1"; }

# tsv_row FILE FIELD... : append one tab-separated row.
tsv_row() {
  local f=$1
  shift
  local IFS=$'\t'
  printf '%s\n' "$*" >> "$f"
}
# tsv_new FILE COLUMN... : start FILE with its header row.
tsv_new() {
  local f=$1
  shift
  : > "$f"
  tsv_row "$f" "$@"
}
# meta KEY VALUE : one scalar of the run (sizes, load averages, counts) in meta.tsv.
meta() {
  [ -s "$W/meta.tsv" ] || tsv_new "$W/meta.tsv" key value
  tsv_row "$W/meta.tsv" "$1" "$2"
}

meta_once() {  # meta_once KEY VALUE: as meta, unless KEY is there already
  [ -s "$W/meta.tsv" ] && cut -f1 "$W/meta.tsv" | grep -qxF "$1" && return 0
  meta "$1" "$2"
}

# ---- /proc ------------------------------------------------------------------------------------
stat_ticks() { awk '{print $14 + $15}' "$1"; }  # utime+stime from a /proc/.../stat file
cpu_ticks() { stat_ticks "/proc/$1/stat"; }
thread_ticks() {  # thread_ticks PID NAME-REGEX: utime+stime of the daemon threads so named
  local sum=0 t
  for t in /proc/"$1"/task/*; do
    grep -qE "^($2)\$" "$t/comm" 2> /dev/null && sum=$((sum + $(stat_ticks "$t/stat")))
  done
  echo "$sum"
}

# ---- PostgreSQL: a throwaway cluster (tests/db/pg_cluster.sh: initdb's defaults, durable) -------
PGS=$W/pg     # pg_cluster.sh's state: conninfo, datadir
PGDIR=""      # the cluster's directory: data/, server.log and the Unix socket
PGPID=""      # the postmaster
PGURL=""      # the --store URL of its postgres database, over the Unix socket
pg_start() {
  bash "$ROOT/tests/db/pg_cluster.sh" start "$PGS"
  [ -s "$PGS/conninfo" ] || { cat "$PGS/error" >&2; exit 1; }
  PGDIR=$(cat "$PGS/datadir")
  PGPID=$(head -n 1 "$PGDIR/data/postmaster.pid")
  PGURL="postgresql:///postgres?host=$PGDIR&user=postgres"
  meta_once pg_version "$("$(dirname "$(readlink -f "/proc/$PGPID/exe")")/postgres" --version)"
}
pg_stop() { bash "$ROOT/tests/db/pg_cluster.sh" stop "$PGS"; }
pg_sql() { psql -X -q -At -h "$PGDIR" -U postgres -d postgres -c "$1"; }

# ---- the daemon -------------------------------------------------------------------------------
DPID=""
DADDR=""
trusts() {
  local f
  TRUSTS=()
  for f in "${FLEETS[@]}"; do TRUSTS+=("$W/fleet-${f%%:*}/factory-ca.crt"); done
}
start_daemon() {  # start_daemon LOGNAME [extra serve args...]
  local log=$W/$1.log
  shift
  trusts
  : > "$log"  # exists before the background job's redirection does: sed below must find it
  ${DAEMON_PFX:-} "$P" serve --state-dir "$W/state" --listen 127.0.0.1:0 --rate-limit-device off \
    --trust "${TRUSTS[@]}" "$@" 2> "$log" &
  DPID=$!
  DADDR=""
  # START_WAIT: seconds to wait for "listening on" (the daemon under valgrind needs minutes).
  for _ in $(seq 1 $((${START_WAIT:-10} * 10))); do
    DADDR=$(sed -n 's/.*listening on \([0-9.]*:[0-9]*\).*/\1/p' "$log")
    [ -n "$DADDR" ] && break
    sleep 0.1
  done
  [ -n "$DADDR" ] || { cat "$log" >&2; exit 1; }
}
stop_daemon() {
  [ -n "$DPID" ] || return 0
  kill -TERM "$DPID" 2> /dev/null || true
  wait "$DPID" 2> /dev/null || true
  DPID=""
}
trap stop_daemon EXIT

# ---- enrollments ------------------------------------------------------------------------------
# enroll NAME FLEET CONCURRENCY [extra device-sim args...]: device-sim against the running daemon,
# $W/NAME.json, and one row of enroll.tsv (the daemon's CPU ticks across the run, load before it).
ENROLL_COLUMNS=(run planned ok failed rate_per_second p50_ms p99_ms max_ms elapsed_s
  daemon_cpu_ticks load slow)
enroll() {
  local name=$1 fleet=$2 conc=$3
  shift 3
  local t0 t1 l
  meta_once hz "$HZ"
  [ -s "$W/enroll.tsv" ] || tsv_new "$W/enroll.tsv" "${ENROLL_COLUMNS[@]}"
  l=$(loadavg)
  t0=$(cpu_ticks "$DPID")
  ${SIM_PFX:-} "$SIM" enroll --fleet "$W/fleet-$fleet" --server "$DADDR" \
    --ca-bundle "$W/state/ca.crt" --concurrency "$conc" --timeout 60 --json "$W/$name.json" "$@" \
    > "$W/$name.txt" 2>&1 || true
  t1=$(cpu_ticks "$DPID")
  local figures
  IFS=$'\t' read -r -a figures < <(jq -r '[.planned, .ok, .failed, .rate_per_second,
    .all.latency_ms.p50, .all.latency_ms.p99, .all.latency_ms.max, .elapsed_seconds] | @tsv' \
    "$W/$name.json")
  tsv_row "$W/enroll.tsv" "$name" "${figures[@]}" "$((t1 - t0))" "$l" \
    "$(jq -r '.slow // "-" | if type == "string" then . else tojson end' "$W/$name.json")"
}
