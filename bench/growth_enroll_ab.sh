#!/usr/bin/env bash
# growth_enroll_ab.sh BIN ROUNDS — daemon CPU per enrollment, an empty store and the grown one
# (GROW_DB) alternated (device-sim, NGROW fresh devices a run, concurrency 8): the daemon's
# utime+stime, and the same without its store-check thread (the background whole-file check).
# WAIT_CHECK=1 starts the grown runs after store_check_passed; PERF=1 keeps a perf record of each.
set -euo pipefail
BIN=$1; ROUNDS=${2:-2}; NGROW=${NGROW:-300}
DB=${GROW_DB:-/tmp/grow2/store.db}
GD=${GROW_WORK:-/tmp/grow_enroll_ab}; mkdir -p "$GD"
SIM=${SIM:-$(dirname "$BIN")/../device-sim/device-sim}
HZ=$(getconf CLK_TCK)
[ -d "$GD/state" ] || "$BIN" init --state-dir "$GD/state" --server-name localhost --server-name 127.0.0.1 > /dev/null
DPID=""
stop() { [ -n "$DPID" ] && { kill -TERM "$DPID" 2>/dev/null || true; wait "$DPID" 2>/dev/null || true; }; DPID=""; }
trap stop EXIT
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
check_ticks() {  # the store-check thread's utime+stime (0 once it has ended)
  local t s=0
  for t in /proc/"$1"/task/*; do
    [ "$(cat "$t/comm" 2>/dev/null)" = store-check ] && s=$((s + $(awk '{print $14 + $15}' "$t/stat")))
  done
  echo $s
}
serve() {  # serve STORE LOG
  "$BIN" serve --log-level info --state-dir "$GD/state" --store "sqlite:$1" --listen 127.0.0.1:0 \
    --rate-limit-device off --trust "$GD"/fleet-*/factory-ca.crt 2> "$2" &
  DPID=$!
  DADDR=""
  for _ in $(seq 1 500); do
    DADDR=$(sed -n 's/.*listening on \([0-9.]*:[0-9]*\).*/\1/p' "$2")
    [ -n "$DADDR" ] && break
    sleep 0.02
  done
}
n=0
for r in $(seq 1 "$ROUNDS"); do
  for store in ${STORES:-empty grown}; do
    n=$((n + 1))
    fleet=$GD/fleet-$(basename "$BIN")-$$-$n
    "$SIM" factory --out "$fleet" --count "$NGROW" --prefix "ab-$$-$n-" --ca-name "Factory CA ab $$ $n" > /dev/null
  done
done
n=0
printf "round\tstore\tok\tms_cpu_per_enrollment\tms_without_check_thread\tcheck_state\tload1\n"
for r in $(seq 1 "$ROUNDS"); do
  for store in ${STORES:-empty grown}; do
    n=$((n + 1))
    fleet=$GD/fleet-$(basename "$BIN")-$$-$n
    db=$DB
    [ "$store" = empty ] && { db=$GD/empty-$n.db; rm -f "$db"*; }
    serve "$db" "$GD/serve-$n.log"
    if [ "$store" = grown ] && [ "${WAIT_CHECK:-0}" = 1 ]; then
      while ! grep -q store_check_passed "$GD/serve-$n.log"; do sleep 0.5; done
    fi
    state="check running"; grep -q store_check_passed "$GD/serve-$n.log" && state="after check"
    load=$(cut -d' ' -f1 /proc/loadavg)
    [ -n "${PERF:-}" ] && { perf record -q -F 2000 -g -o "$GD/perf-$store-$n.data" -p "$DPID" 2>/dev/null & PERFPID=$!; }
    t0=$(ticks "$DPID"); c0=$(check_ticks "$DPID")
    "$SIM" enroll --fleet "$fleet" --server "$DADDR" --ca-bundle "$GD/state/ca.crt" \
      --concurrency 8 --timeout 60 --json "$GD/enroll-$n.json" > /dev/null 2>&1 || true
    t1=$(ticks "$DPID"); c1=$(check_ticks "$DPID")
    [ -n "${PERF:-}" ] && { kill -INT "$PERFPID"; wait "$PERFPID" 2>/dev/null || true; }
    ok=$(jq -r .ok "$GD/enroll-$n.json")
    printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\n" "$r" "$store" "$ok" \
      "$(echo "($t1 - $t0) * 1000 / $HZ / ($ok + 0.000001)" | bc -l | cut -c1-5)" \
      "$(echo "($t1 - $t0 - ($c1 - $c0)) * 1000 / $HZ / ($ok + 0.000001)" | bc -l | cut -c1-5)" "$state" "$load"
    stop
  done
done
