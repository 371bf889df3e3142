#!/usr/bin/env bash
# 35_replicas.sh — section 3b: enrollments/s and server CPU per enrollment with 1 and 2 provisiond
# replicas sharing one store, SQLite (one file, the state dir's) and PostgreSQL (a throwaway
# cluster, durable) -> replicas.tsv (one row a run: device-sim's figures, the replicas' and the
# database server's CPU ticks).
# 2 CPUs: each replica runs one worker pinned to a CPU of its own (taskset). With 1 replica it has
# CPU 0 and device-sim and PostgreSQL share CPU 1; with 2 replicas they have CPU 0 and CPU 1 and
# the two device-sims (one per replica, concurrency 64 each: no balancer) and PostgreSQL run
# unpinned on both, beside them.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/../lib.sh"
RPIDS=()
stop_replicas() {
  local p
  for p in "${RPIDS[@]}"; do kill -TERM "$p" 2> /dev/null || true; done
  for p in "${RPIDS[@]}"; do wait "$p" 2> /dev/null || true; done
  RPIDS=()
}
trap 'stop_replicas; pg_stop' EXIT
[ "$(nproc)" -ge 2 ] || { say "35_replicas needs 2 CPUs"; exit 0; }
pg_ticks() {  # the PostgreSQL server's CPU ticks so far: postmaster, children live and exited
  local sum c
  sum=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$PGPID/stat")
  for c in $(ps -o pid= --ppid "$PGPID"); do sum=$((sum + $(cpu_ticks "$c" 2> /dev/null || echo 0))); done
  echo "$sum"
}
pin_pg() {  # pin_pg CPUS: the server's processes and those it forks later
  local c
  for c in "$PGPID" $(ps -o pid= --ppid "$PGPID"); do taskset -a -p -c "$1" "$c" > /dev/null; done
}
start_replica() {  # start_replica NAME CPU [serve args...]: appends to RPIDS and RADDRS
  local name=$1 cpu=$2
  shift 2
  DAEMON_PFX="taskset -c $cpu" start_daemon "$name" --workers 1 "$@"
  RPIDS+=("$DPID")
  RADDRS+=("$DADDR")
  DPID=""  # stop_replicas owns it now (lib.sh's EXIT trap is replaced above)
}
sim() {  # sim NAME FLEET ADDR: device-sim at concurrency 64, $W/NAME.json
  ${SIM_PFX:-} "$SIM" enroll --fleet "$W/fleet-$2" --server "$3" --ca-bundle "$W/state/ca.crt" \
    --concurrency 64 --timeout 60 --json "$W/$1.json" > "$W/$1.txt" 2>&1 || true
}
replica_ticks() {
  local sum=0 p
  for p in "${RPIDS[@]}"; do sum=$((sum + $(cpu_ticks "$p"))); done
  echo "$sum"
}
# measure RUN ENGINE FLEET...: one device-sim per replica (RADDRS, same order), all at once.
measure() {
  local run=$1 engine=$2 l r0 p0 r1 p1 i
  shift 2
  local fleets=("$@") pids=()
  l=$(loadavg)
  r0=$(replica_ticks)
  p0=$([ "$engine" = postgresql ] && pg_ticks || echo 0)
  for i in "${!fleets[@]}"; do
    sim "$run-$i" "${fleets[$i]}" "${RADDRS[$i]}" &
    pids+=($!)
  done
  wait "${pids[@]}"
  r1=$(replica_ticks)
  p1=$([ "$engine" = postgresql ] && pg_ticks || echo 0)
  # ok, failed, elapsed (the longest), p50 (mean), p99 (the worst) over the device-sims.
  local jsons=() figures
  for i in "${!fleets[@]}"; do jsons+=("$W/$run-$i.json"); done
  figures=$(jq -s -r '[(map(.ok) | add), (map(.failed) | add), (map(.elapsed_seconds) | max),
    (map(.all.latency_ms.p50) | add / length), (map(.all.latency_ms.p99) | max)] | @tsv' \
    "${jsons[@]}")
  local f
  IFS=$'\t' read -r -a f <<< "$figures"
  tsv_row "$W/replicas.tsv" "$run" "$engine" "${#fleets[@]}" "${f[@]}" "$((r1 - r0))" \
    "$((p1 - p0))" "$l"
}
tsv_new "$W/replicas.tsv" run engine replicas ok failed elapsed_s p50_ms p99_ms replica_cpu_ticks \
  pg_cpu_ticks load
meta_once hz "$HZ"
meta replicas_devices "$NREP"
say "PostgreSQL cluster"
pg_start
"$P" migrate --store "$PGURL" > "$W/migrate.log" 2>&1
for engine in sqlite postgresql; do
  store=()
  [ "$engine" = postgresql ] && store=(--store "$PGURL")
  e=${engine:0:1}
  say "$engine, 1 replica on CPU 0; device-sim and PostgreSQL on CPU 1 ($NREP devices)"
  pin_pg 1
  RADDRS=()
  start_replica "r${e}1" 0 "${store[@]}"
  SIM_PFX="taskset -c 1" measure "r${e}1" "$engine" "r${e}1"
  stop_replicas
  say "$engine, 2 replicas on CPU 0 and CPU 1; two device-sims and PostgreSQL unpinned (2 x $NREP)"
  pin_pg 0-1
  RADDRS=()
  start_replica "r${e}2a" 0 "${store[@]}"
  start_replica "r${e}2b" 1 "${store[@]}"
  measure "r${e}2" "$engine" "r${e}2a" "r${e}2b"
  stop_replicas
done
