#!/usr/bin/env bash
# 55_pinned.sh — section 5b: the daemon alone on a CPU (--workers 1 under taskset -c 0,
# device-sim under taskset -c 1), twice, each between two crypto_floor runs on CPU 0 ->
# pinned.tsv (worker and writer thread ticks, floors) and the runs' enroll.tsv rows.
# On 2 CPUs shared with device-sim, the daemon's threads are descheduled for the client's and
# share caches with it. This VM's speed drifts by several per cent over minutes, so the crypto
# floor is measured again on CPU 0 right before and after each daemon run.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/../lib.sh"
tsv_new "$W/pinned.tsv" run worker_ticks writer_ticks floor_before_us floor_after_us \
  verify_before_us verify_after_us
[ "$(nproc)" -ge 2 ] || exit 0
floor_cpu0() {  # floor_cpu0 NAME -> "floor verify" in µs, crypto_floor on CPU 0
  taskset -c 0 "$B/bench/crypto_floor" --seconds "$CRYPTO_SECONDS" --tsv "$W/$1.tsv" > /dev/null
  printf '%s %s\n' "$(cut -f2 < <(grep -F $'floor (P-256 ECDH + 2 sign + 4 verify)\t' "$W/$1.tsv"))" \
    "$(cut -f2 < <(grep -F $'ECDSA P-256 verify\t' "$W/$1.tsv"))"
}
say "pinned: crypto floor on CPU 0"
read -r F0 V0 <<< "$(floor_cpu0 pin-floor0)"
for i in 1 2; do
  say "pinned $i: daemon (1 worker) on CPU 0, device-sim on CPU 1, c=64 ($N64)"
  DAEMON_PFX="taskset -c 0" start_daemon "pin$i" --workers 1
  w0=$(thread_ticks "$DPID" 'worker-.*')
  d0=$(thread_ticks "$DPID" 'db-writer')
  SIM_PFX="taskset -c 1" enroll "pin$i" "pin$i" 64
  w1=$(thread_ticks "$DPID" 'worker-.*')
  d1=$(thread_ticks "$DPID" 'db-writer')
  stop_daemon
  say "pinned: crypto floor on CPU 0"
  read -r F1 V1 <<< "$(floor_cpu0 "pin-floor$i")"
  tsv_row "$W/pinned.tsv" "$i" "$((w1 - w0))" "$((d1 - d0))" "$F0" "$F1" "$V0" "$V1"
  F0=$F1 V0=$V1
done
