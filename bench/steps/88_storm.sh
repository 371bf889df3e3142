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
# device backs off with its own jitter (device-sim --retry-connections). Every simulated device
# connects from 127.0.0.1, so the per-source limit is the whole table (a real fleet comes from
# many addresses).
MAXCONN=${BENCH_STORM_MAXCONN:-256}
SETTINGS=(--max-connections "$MAXCONN" --max-connections-per-source "$MAXCONN" --retry-after 10
  --rate-limit-device off)
SW=$W/storm
rm -rf "$SW"
mkdir -p "$SW"
# device-sim holds one socket per device in flight: raise the hard limit (with CAP_SYS_RESOURCE:
# up to /proc/sys/fs/nr_open) when it is below the storm's size, then the soft one to it. Where it
# cannot be raised, all but the last devices start at once and those as the first ones finish.
NEED_FDS=$((NSTORM + 1024))
CONC=$NSTORM
if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt "$NEED_FDS" ]; then
  if ! ulimit -Hn "$NEED_FDS" 2> /dev/null; then
    CONC=$(($(ulimit -Hn) - 100))
    [ "$CONC" -lt "$NSTORM" ] || CONC=$NSTORM
    say "storm: RLIMIT_NOFILE hard limit $(ulimit -Hn) < $NEED_FDS: $CONC devices at once"
  fi
fi
ulimit -n "$(ulimit -Hn)"
"$P" init --state-dir "$SW/state" --server-name localhost --server-name 127.0.0.1 > /dev/null
# BENCH_STORM_FLEETS=DIR: fleets made once there (DIR/fleet-NAME-COUNT: 20,000 bootstrap
# identities take minutes on a loaded machine) and copied for each run; none enrolled yet.
for f in sus:"$NSUS" storm:"$NSTORM"; do
  name=${f%%:*} count=${f#*:}
  cache=${BENCH_STORM_FLEETS:-$SW}/fleet-$name-$count
  [ -d "$cache" ] || "$SIM" factory --out "$cache" --count "$count" --prefix "$name-" \
    --ca-name "Factory CA $name" > /dev/null
  if [ "$cache" = "$SW/fleet-$name-$count" ]; then mv "$cache" "$SW/fleet-$name"; else
    cp -a "$cache" "$SW/fleet-$name"
  fi
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
    --concurrency "$conc" --prepare-keys --json "$SW/$name.json" "$@" > "$SW/$name.txt" 2>&1 || true
}
say "storm: sustained rate at c=64 ($NSUS devices)"
load_sus=$(loadavg)
sim sustain sus 64 --timeout 60
rate=$(jq -r .rate_per_second "$SW/sustain.json")
sleep 3  # the daemon returns free heap ~1 s after its connections drain (daemon/heap_return.h)
rss_before=$(rss)
say "storm: $NSTORM devices at once (sustained $rate/s)"
started=$(date -u +%FT%TZ)
load_storm=$(loadavg)
( peak=0
  while kill -0 "$DPID" 2> /dev/null && [ ! -e "$SW/storm.done" ]; do
    r=$(rss); [ "${r:-0}" -gt "$peak" ] && peak=$r && echo "$peak" > "$SW/rss_peak"
    sleep 0.25
  done ) &
sampler=$!
sim storm storm "$CONC" --threads 2 --retry-connections --max-retries 1000 --timeout 30
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
  after_seconds certificates load_sustain load_storm heap_returns started_utc concurrency
tsv_row "$W/storm.tsv" "$NSTORM" "$rate" "$(jq -r .elapsed_seconds "$SW/storm.json")" \
  "$(echo "1.25 * $NSTORM / $rate" | bc -l | xargs printf '%.1f')" \
  "$(jq -r .ok "$SW/storm.json")" "$(jq -r .failed "$SW/storm.json")" \
  "$(jq '.timeline.per_second.retry_status | add // 0' "$SW/storm.json")" \
  "$(jq '.timeline.per_second.connect_retries | add // 0' "$SW/storm.json")" \
  "$(jq '.timeline.retry_after_seconds | length' "$SW/storm.json")" \
  "$rss_before" "$(cat "$SW/rss_peak" 2> /dev/null || echo "$rss_before")" "$rss_after" "$AFTER_S" \
  "$(sqlite3 "$SW/state/provisiond.db" "SELECT count(*) FROM certificates WHERE device_id LIKE 'storm-%'")" \
  "$load_sus" "$load_storm" "$(grep -c heap_returned "$SW/daemon.log" || true)" "$started" "$CONC"
# The curve is drawn with gnuplot (gnuplot-nox, installed by scripts/install-deps.sh).
python3 "$ROOT/bench/render_storm.py" --png "$W/storm.png" \
  --target "$(echo "1.25 * $NSTORM / $rate" | bc -l | xargs printf '%.1f')" "$W/storm.json"
