#!/usr/bin/env bash
# 88_storm.sh — issue #18's storm: the sustained rate at concurrency 64, then BENCH_NSTORM
# (default 20,000) devices all started at once against the same daemon settings -> storm.tsv,
# storm.json (device-sim's per-second timeline) and storm.png (bench/render_storm.py).
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/../lib.sh"
NSTORM=${BENCH_NSTORM:-20000}
NSUS=${BENCH_NSUSTAIN:-2000}
# The daemon's settings, the same for both runs. Admission: the connection table is the queue
# bound; beyond it a connection is closed at accept (cheap: no handshake is spent on it) and the
# device backs off with its own jitter (device-sim --retry-connections).
SETTINGS=(--max-connections "${BENCH_STORM_MAXCONN:-256}" --retry-after 10 --rate-limit-device off)
SW=$W/storm
rm -rf "$SW"
mkdir -p "$SW"
ulimit -n "$(ulimit -Hn)"  # device-sim holds one socket per device in flight
"$P" init --state-dir "$SW/state" --server-name localhost --server-name 127.0.0.1 > /dev/null
for f in sus:"$NSUS" storm:"$NSTORM"; do
  "$SIM" factory --out "$SW/fleet-${f%%:*}" --count "${f#*:}" --prefix "${f%%:*}-" \
    --ca-name "Factory CA ${f%%:*}" > /dev/null
done
"$P" serve --state-dir "$SW/state" --listen 127.0.0.1:0 --trust "$SW/fleet-sus/factory-ca.crt" \
  --trust "$SW/fleet-storm/factory-ca.crt" "${SETTINGS[@]}" 2> "$SW/daemon.log" &
DPID=$!
for _ in $(seq 1 100); do
  DADDR=$(sed -n 's/.*listening on \([0-9.]*:[0-9]*\).*/\1/p' "$SW/daemon.log")
  [ -n "$DADDR" ] && break
  sleep 0.1
done
[ -n "$DADDR" ] || { cat "$SW/daemon.log" >&2; exit 1; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$DPID/status"; }
sim() {  # sim NAME FLEET CONCURRENCY [extra device-sim args...]
  local name=$1 fleet=$2 conc=$3
  shift 3
  "$SIM" enroll --fleet "$SW/fleet-$fleet" --server "$DADDR" --ca-bundle "$SW/state/ca.crt" \
    --concurrency "$conc" --json "$SW/$name.json" "$@" > "$SW/$name.txt" 2>&1 || true
}
say "storm: sustained rate at c=64 ($NSUS devices)"
load_sus=$(loadavg)
sim sustain sus 64 --timeout 60
rate=$(jq -r .rate_per_second "$SW/sustain.json")
sleep 2
rss_before=$(rss)
say "storm: $NSTORM devices at once (sustained $rate/s)"
load_storm=$(loadavg)
( peak=0
  while kill -0 "$DPID" 2> /dev/null && [ ! -e "$SW/storm.done" ]; do
    r=$(rss); [ "${r:-0}" -gt "$peak" ] && peak=$r && echo "$peak" > "$SW/rss_peak"
    sleep 0.25
  done ) &
sampler=$!
sim storm storm "$NSTORM" --threads 2 --retry-connections --max-retries 1000 --timeout 30
touch "$SW/storm.done"
wait "$sampler" || true
AFTER_S=${BENCH_STORM_AFTER:-10}
sleep "$AFTER_S"
rss_after=$(rss)
kill -TERM "$DPID"
wait "$DPID" || true
DPID=""
cp "$SW/storm.json" "$W/storm.json"
tsv_new "$W/storm.tsv" devices sustained_rate storm_seconds target_seconds ok failed \
  status_retries connect_retries retry_after_distinct rss_before_kib rss_peak_kib rss_after_kib \
  after_seconds certificates load_sustain load_storm
tsv_row "$W/storm.tsv" "$NSTORM" "$rate" "$(jq -r .elapsed_seconds "$SW/storm.json")" \
  "$(echo "1.25 * $NSTORM / $rate" | bc -l | xargs printf '%.1f')" \
  "$(jq -r .ok "$SW/storm.json")" "$(jq -r .failed "$SW/storm.json")" \
  "$(jq '.timeline.per_second.retry_status | add // 0' "$SW/storm.json")" \
  "$(jq '.timeline.per_second.connect_retries | add // 0' "$SW/storm.json")" \
  "$(jq '.timeline.retry_after_seconds | length' "$SW/storm.json")" \
  "$rss_before" "$(cat "$SW/rss_peak" 2> /dev/null || echo "$rss_before")" "$rss_after" "$AFTER_S" \
  "$(sqlite3 "$SW/state/provisiond.db" "SELECT count(*) FROM certificates WHERE device_id LIKE 'storm-%'")" \
  "$load_sus" "$load_storm"
# The curve is drawn with gnuplot (gnuplot-nox, installed by scripts/install-deps.sh).
python3 "$ROOT/bench/render_storm.py" --png "$W/storm.png" "$W/storm.json"
