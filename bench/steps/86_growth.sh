#!/usr/bin/env bash
# 86_growth.sh — costs that grow with the store: a SQLite store filled with GROW_COUNT issuances
# (bench/grow_fill, through db::Writer), then on it serve's ready time, a one-device list and
# revoke, crl and audit verify, with this build's provisiond and (GROW_BEFORE=path) another's,
# page cache dropped for the file before each; daemon CPU per enrollment on an empty store and on
# the grown one, alternated; audit verify, audit checkpoint and verify from it; revoke beside a
# running serve -> growth.tsv (docs/benchmarks.md, "Costs that grow with the store").
# GROW_DB=path reuses a store filled before (the fill is measured once).
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/../lib.sh"
GROW_COUNT=${GROW_COUNT:-2000000}
GD=$W/grow
DB=${GROW_DB:-$GD/store.db}
NGROW=${NGROW:-300}  # enrollments per device-sim run
mkdir -p "$GD"
tsv_new "$W/growth.tsv" what binary seconds detail load
row() { tsv_row "$W/growth.tsv" "$@" "$(loadavg)"; }
now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc; }
cold() { dd if="$DB" iflag=nocache count=0 status=none; }  # drops the file's cached pages

[ -d "$GD/state" ] ||
  "$P" init --state-dir "$GD/state" --server-name localhost --server-name 127.0.0.1 > /dev/null
if [ ! -s "$DB" ]; then
  say "grow_fill $GROW_COUNT"
  t=$(now)
  "$B/bench/grow_fill" --db "$DB" --count "$GROW_COUNT" > "$GD/fill.txt"
  row fill grow_fill "$(since "$t")" "$(cut -f2 "$GD/fill.txt") issuances"
fi
certs=$(sqlite3 "$DB" 'SELECT count(*) FROM certificates')
row size - 0 "$(stat -c %s "$DB") bytes, $certs certificates"
for f in g1:"$NGROW" g2:"$NGROW" g3:"$NGROW" g4:"$NGROW" g5:"$NGROW" g6:"$NGROW"; do
  [ -d "$GD/fleet-${f%%:*}" ] || "$SIM" factory --out "$GD/fleet-${f%%:*}" --count "${f#*:}" \
    --prefix "grow-${f%%:*}-" --ca-name "Factory CA grow ${f%%:*}" > /dev/null
done
TRUST=("$GD"/fleet-g?/factory-ca.crt)

# serve_ready BIN STORE: seconds from exec to the first answered GET /cacerts into $GD/ready.txt;
# leaves it running (DPID, DADDR).
serve_ready() {
  local t
  t=$(now)
  "$1" serve --log-level info --state-dir "$GD/state" --store "sqlite:$2" --listen 127.0.0.1:0 \
    --rate-limit-device off --trust "${TRUST[@]}" 2> "$GD/serve.log" &
  DPID=$!
  DADDR=""
  while kill -0 "$DPID" 2> /dev/null; do
    DADDR=$(sed -n 's/.*listening on \([0-9.]*:[0-9]*\).*/\1/p' "$GD/serve.log")
    # Client certificates are required: an answered handshake (an alert, curl 35/56) or any HTTP
    # answer shows a worker serving; 7 is "nothing listening".
    if [ -n "$DADDR" ]; then
      rc=0
      curl -sk --max-time 2 "https://$DADDR/.well-known/est/cacerts" -o /dev/null || rc=$?
      [ "$rc" -ne 7 ] && [ "$rc" -ne 28 ] && break
    fi
    sleep 0.02
  done
  since "$t" > "$GD/ready.txt"
}

# admin BIN NAME: one admin command on the grown store, timed, cold cache.
admin() {
  local bin=$1 name=$2 t
  shift 2
  cold
  t=$(now)
  "$bin" "$@" --state-dir "$GD/state" --store "sqlite:$DB" > "$GD/$name.out" 2>&1 || true
  row "$name" "$(basename "$bin")" "$(since "$t")" "$(head -c 120 "$GD/$name.out" | tr '\n\t' '  ')"
}

BINS=("$P")
[ -n "${GROW_BEFORE:-}" ] && BINS=("$GROW_BEFORE" "$P")
i=0
for bin in "${BINS[@]}"; do
  i=$((i + 1))
  say "$(basename "$bin"): serve, list, revoke, crl"
  cold
  serve_ready "$bin" "$DB"
  row serve_ready "$(basename "$bin")" "$(cat "$GD/ready.txt")" "cold cache"
  stop_daemon
  admin "$bin" list list --device-id "device-150000$i"
  admin "$bin" revoke revoke --device-id "device-150001$i" --reason superseded
  admin "$bin" crl crl --out "$GD/crl-$i.der"
done

# wait_check: until serve's background whole-file check (daemon/store_checker.cc) has passed;
# its CPU is the daemon's too, so "grown" enrollments overlap it and "grown_checked" ones do not.
wait_check() {
  local t
  t=$(now)
  while ! grep -q store_check_passed "$GD/serve.log" && kill -0 "$DPID" 2> /dev/null; do
    sleep 0.5
  done
  row store_check "$(basename "$P")" "$(since "$t")" \
    "$(grep -o 'store_check_passed.*' "$GD/serve.log" | head -c 100) (after ready)"
}

say "enrollment CPU: empty store and grown store (during and after the background check), alternated"
n=0
for store in empty grown grown_checked empty grown grown_checked; do
  n=$((n + 1))
  db=$DB
  [ $store = empty ] && { db=$GD/empty-$n.db; rm -f "$db"*; }
  serve_ready "$P" "$db"
  [ $store = grown_checked ] && wait_check
  t0=$(cpu_ticks "$DPID")
  "$SIM" enroll --fleet "$GD/fleet-g$n" --server "$DADDR" --ca-bundle "$GD/state/ca.crt" \
    --concurrency 8 --timeout 60 --json "$GD/enroll-$n.json" > /dev/null 2>&1 || true
  t1=$(cpu_ticks "$DPID")
  ok=$(jq -r .ok "$GD/enroll-$n.json")
  row "enroll_cpu_$store" "$(basename "$P")" "$(echo "($t1 - $t0) / $HZ" | bc -l)" \
    "$ok ok, $(echo "($t1 - $t0) * 1000 / $HZ / ($ok + 0.000001)" | bc -l | cut -c1-5) ms/enrollment"
  stop_daemon
done

say "audit verify, audit checkpoint, audit verify from the checkpoint"
admin "$P" audit_verify audit verify
rm -f "$GD/checkpoint"
admin "$P" audit_checkpoint audit checkpoint --out "$GD/checkpoint"
# Rows written after the checkpoint, as a day of enrollments would add: a few admin events.
for n in 1 2 3; do
  "$P" block --device-id "grow-late-$n" --reason bench --state-dir "$GD/state" \
    --store "sqlite:$DB" > /dev/null
done
admin "$P" audit_verify_from audit verify --from-checkpoint "$GD/checkpoint"

say "one-device revoke beside a running serve (its connections keep the WAL open)"
serve_ready "$P" "$DB"
for n in 1 2 3; do
  admin "$P" revoke_beside_serve revoke --device-id "device-160000$n" --reason superseded
done
stop_daemon
