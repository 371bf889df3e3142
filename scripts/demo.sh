#!/usr/bin/env bash
# demo.sh — the whole story on one machine: build, a fresh CA, provisiond on loopback, a simulated
# fleet enrolling (and a few devices renewing), then what an operator sees in SQLite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh

DEMO=${DEMO_DIR:-$PWD/demo-state}
DEVICES=${DEMO_DEVICES:-20}
rm -rf "$DEMO"
mkdir -p "$DEMO"
P=build/daemon/provisiond
SIM=build/device-sim/device-sim

echo "== provisiond init"
"$P" init --state-dir "$DEMO/state" --server-name localhost --server-name 127.0.0.1
echo "== device-sim factory: $DEVICES devices with bootstrap certificates from a factory CA"
"$SIM" factory --out "$DEMO/fleet" --count "$DEVICES"

# --config '': never read an installed /etc/provisiond/provisiond.toml (a service's settings).
"$P" serve --config '' --state-dir "$DEMO/state" --listen 127.0.0.1:0 \
  --trust "$DEMO/fleet/factory-ca.crt" 2> "$DEMO/provisiond.log" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  addr=$(sed -n 's/.*listening on \([0-9.]*:[0-9]*\).*/\1/p' "$DEMO/provisiond.log")
  [ -n "$addr" ] && break
  sleep 0.1
done
[ -n "$addr" ] || { cat "$DEMO/provisiond.log"; exit 1; }
echo "== provisiond listening on $addr (log: $DEMO/provisiond.log)"

echo "== device-sim enroll"
"$SIM" enroll --fleet "$DEMO/fleet" --server "$addr" --ca-bundle "$DEMO/state/ca.crt" --concurrency 4
echo "== device-sim reenroll (first 3 devices renew with their operational certificates)"
"$SIM" reenroll --fleet "$DEMO/fleet" --server "$addr" --ca-bundle "$DEMO/state/ca.crt" --count 3

kill -TERM $pid
wait $pid || true
trap - EXIT

echo "== sqlite3 $DEMO/state/provisiond.db"
sqlite3 -header -column "$DEMO/state/provisiond.db" <<'SQL'
SELECT serial, device_id, kind, not_after, peer FROM certificates ORDER BY id LIMIT 10;
SELECT kind, count(*) AS certificates FROM certificates GROUP BY kind;
SELECT endpoint, outcome, http_status, count(*) AS events FROM enrollment_events
  GROUP BY endpoint, outcome, http_status;
SQL
echo "== done: state in $DEMO (daemon stopped)"
