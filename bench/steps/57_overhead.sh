#!/usr/bin/env bash
# 57_overhead.sh — section 5c: the daemon's CPU per enrollment above the crypto floor, A/B:
# crypto_floor, then a baseline binary (A) and ours (B) alternated, crypto_floor between every
# pair, each daemon run on a fresh store -> overhead.tsv (one row per daemon run).
#
# A is OVERHEAD_A (a provisiond built from the commit to compare with, e.g. main's); without it
# only ours runs. Loads: device-sim (TLS 1.3, P-256 key share) and, when bench/est_load.py (or
# EST_LOAD) exists, the OpenSSL TLS 1.2 driver (it offers P-256 only). Both handshakes are
# ECDHE P-256, so both compare with crypto_floor's P-256 floor: the mean of the floor measured
# right before and right after the pair of daemon runs.
# Each daemon run's worker and db-writer thread CPU is kept apart: the writer's is mostly the
# kernel's write and fdatasync of the WAL (durability, not crypto).
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/../lib.sh"
NOV=${BENCH_NOVERHEAD:-600}      # enrollments per daemon run
ROUNDS=${BENCH_OVERHEAD_ROUNDS:-2}  # A B then B A: each round is two runs per load
A_BIN=${OVERHEAD_A:-}
EST_LOAD=${EST_LOAD:-$ROOT/bench/est_load.py}
OV=$W/overhead
mkdir -p "$OV"
tsv_new "$W/overhead.tsv" run binary load_driver ok daemon_ms worker_ms writer_ms floor_us \
  above_floor_ms ratio rate_per_second load
floor() {  # floor NAME LABEL -> µs of crypto_floor's row LABEL
  "$B/bench/crypto_floor" --seconds "$CRYPTO_SECONDS" --tsv "$OV/$1.tsv" > /dev/null
  cut -f2 < <(grep -F "$2"$'\t' "$OV/$1.tsv")
}
F='floor (P-256 ECDH + 2 sign + 4 verify)'
if [ ! -s "$OV/fleet/factory-ca.crt" ]; then
  say "overhead: device-sim fleet ($NOV) and est_load identities"
  "$SIM" factory --out "$OV/fleet" --count "$NOV" --prefix ov- --ca-name "Factory CA overhead" \
    > /dev/null
  [ -f "$EST_LOAD" ] && python3 "$EST_LOAD" prepare --dir "$OV/est" --count "$NOV" > /dev/null
fi
# ov_daemon BIN NAME: a fresh store, the daemon trusting both fleets; sets DPID and DADDR.
ov_daemon() {
  local log=$OV/$2.log
  rm -rf "$OV/state-$2"
  "$1" init --state-dir "$OV/state-$2" --server-name localhost --server-name 127.0.0.1 > /dev/null
  local trust=("$OV/fleet/factory-ca.crt")
  [ -s "$OV/est/factory-ca.crt" ] && trust+=("$OV/est/factory-ca.crt")
  : > "$log"
  "$1" serve --state-dir "$OV/state-$2" --listen 127.0.0.1:0 --rate-limit-device off \
    --trust "${trust[@]}" 2> "$log" &
  DPID=$!
  DADDR=""
  for _ in $(seq 1 100); do
    DADDR=$(sed -n 's/.*listening on \([0-9.]*:[0-9]*\).*/\1/p' "$log")
    [ -n "$DADDR" ] && break
    sleep 0.1
  done
  [ -n "$DADDR" ] || { cat "$log" >&2; exit 1; }
}
# ov_run BIN LABEL DRIVER: one daemon run under DRIVER (sim13 or est12); appends its figures
# (name label driver ok ticks worker_ticks writer_ticks rate load) to ROWS.
ROWS=()
ov_run() {
  local bin=$1 label=$2 driver=$3 name="$2-$3-$RANDOM" ok rate l w0 d0 t0 w1 d1 t1
  ov_daemon "$bin" "$name"
  l=$(loadavg)
  t0=$(cpu_ticks "$DPID") w0=$(thread_ticks "$DPID" 'worker-.*') d0=$(thread_ticks "$DPID" db-writer)
  if [ "$driver" = sim13 ]; then
    "$SIM" enroll --fleet "$OV/fleet" --server "$DADDR" --ca-bundle "$OV/state-$name/ca.crt" \
      --concurrency 8 --key-share secp256r1 --timeout 60 --json "$OV/$name.json" \
      > "$OV/$name.txt" 2>&1 || true
    ok=$(jnum "$OV/$name.json" .ok) rate=$(jnum "$OV/$name.json" .rate_per_second)
  else
    python3 "$EST_LOAD" run --dir "$OV/est" --server "$DADDR" \
      --ca-bundle "$OV/state-$name/ca.crt" --concurrency 8 --count "$NOV" > "$OV/$name.json" \
      2> "$OV/$name.txt" || true
    ok=$(jnum "$OV/$name.json" .ok) rate=$(jnum "$OV/$name.json" .rate_per_second)
  fi
  t1=$(cpu_ticks "$DPID") w1=$(thread_ticks "$DPID" 'worker-.*') d1=$(thread_ticks "$DPID" db-writer)
  stop_daemon
  rm -rf "$OV/state-$name"
  [ "${ok:-0}" -gt 0 ] || { say "overhead: $name enrolled nothing"; return 0; }
  ROWS+=("$name|$label|$driver|$ok|$((t1 - t0))|$((w1 - w0))|$((d1 - d0))|$rate|$l")
}
# emit_rows FLOOR_BEFORE FLOOR_AFTER: ROWS as overhead.tsv rows against the mean floor.
emit_rows() {
  local r name label driver ok t w d rate l
  for r in "${ROWS[@]}"; do
    IFS='|' read -r name label driver ok t w d rate l <<< "$r"
    IFS=$'\t' read -r per wk wr fl above ratio < <(awk -v t="$t" -v w="$w" -v d="$d" -v ok="$ok" \
      -v hz="$HZ" -v f0="$1" -v f1="$2" 'BEGIN { ms = 1000 / hz; per = t * ms / ok; f = (f0 + f1) / 2;
      printf "%.3f\t%.3f\t%.3f\t%.1f\t%.3f\t%.3f\n", per, w * ms / ok, d * ms / ok, f,
             per - f / 1000, per / (f / 1000) }')
    tsv_row "$W/overhead.tsv" "$name" "$label" "$driver" "$ok" "$per" "$wk" "$wr" "$fl" \
      "$above" "$ratio" "$rate" "$l"
  done
  ROWS=()
}
drivers=(sim13)
[ -f "$EST_LOAD" ] && drivers+=(est12)
meta overhead_load_start "$(loadavg)"
for d in "${drivers[@]}"; do
  say "overhead ($d): crypto floor"
  f0=$(floor "floor-$d-0" "$F")
  for r in $(seq 1 "$ROUNDS"); do
    order=(B)
    [ -n "$A_BIN" ] && { if [ $((r % 2)) = 1 ]; then order=(A B); else order=(B A); fi; }
    for x in "${order[@]}"; do
      bin=$P
      [ "$x" = A ] && bin=$A_BIN
      say "overhead ($d) round $r: $x"
      ov_run "$bin" "$x" "$d"
    done
    say "overhead ($d): crypto floor"
    f1=$(floor "floor-$d-$r" "$F")
    emit_rows "$f0" "$f1"
    f0=$f1
  done
done
meta overhead_load_end "$(loadavg)"
