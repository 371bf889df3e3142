#!/usr/bin/env bash
# 82_lockout.sh — issue #18 "one source cannot lock everyone out": device-sim enrollments from
# 127.0.0.1 quiet, with one attacker source (127.0.0.2) holding silent connections up to
# --max-connections, and with 16 attacker sources (127.0.0.2..17) holding twice the table,
# alternated twice: quiet, one, many, quiet, one, many -> lockout.tsv. The attacker reopens every
# connection the daemon closes (tests/e2e/lockout_attacker.py) at nice 10, as device-sim's
# slowloris does: a real one runs on its own machine. Runs alone (its own fleets and state).
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/../lib.sh"
NLK=${BENCH_NLK:-400}   # enrollments per run, concurrency 8
MAXC=200                # --max-connections; per source: auto, a tenth but at least 16 -> 20
RUNS=(quiet1 one1 many1 quiet2 one2 many2)
L=$W/lockout
mkdir -p "$L"
[ -s "$L/state/ca.crt" ] ||
  "$P" init --state-dir "$L/state" --server-name localhost > /dev/null
trust=()
for r in "${RUNS[@]}"; do
  [ -d "$L/fleet-$r" ] || "$SIM" factory --out "$L/fleet-$r" --count "$NLK" --prefix "$r-" \
    --ca-name "Factory CA lockout $r" > /dev/null
  trust+=("$L/fleet-$r/factory-ca.crt")
done
say "lockout: $NLK enrollments per run, --max-connections $MAXC, runs ${RUNS[*]}"
: > "$L/daemon.log"
"$P" serve --state-dir "$L/state" --listen 127.0.0.1:0 --metrics-listen 0 --rate-limit-device off \
  --max-connections "$MAXC" --trust "${trust[@]}" 2> "$L/daemon.log" &
DPID=$!
for _ in $(seq 1 100); do
  DADDR=$(sed -n 's/.*listening on \([0-9.]*:[0-9]*\).*/\1/p' "$L/daemon.log")
  [ -n "$DADDR" ] && break
  sleep 0.1
done
MADDR=$(sed -n 's/^<5>metrics_listening address=\([0-9.:]*\) .*/\1/p' "$L/daemon.log")
counter() { curl -sS "http://$MADDR/metrics" | awk -v k="provisiond_connections_total{event=\"$1\"}" '$1 == k {print $2}'; }
APID=""
stop_attacker() {
  [ -n "$APID" ] || return 0
  kill -TERM "$APID" 2> /dev/null || true
  wait "$APID" 2> /dev/null || true
  APID=""
}
trap 'stop_attacker; stop_daemon' EXIT
tsv_new "$W/lockout.tsv" run attacker_sources attacker_slots ok failed rate_per_second p50_ms \
  p99_ms max_ms elapsed_s refused_source evicted refused load attacker_opened
for r in "${RUNS[@]}"; do
  sources="" slots=0
  case $r in
    one*) sources=127.0.0.2 slots=$MAXC ;;
    many*) sources=$(seq -f '127.0.0.%g' 2 17 | paste -sd,) slots=$((MAXC * 2 / 16)) ;;
  esac
  if [ -n "$sources" ]; then
    rm -f "$L/ready"
    nice -n 10 python3 "$ROOT/tests/e2e/lockout_attacker.py" "${DADDR##*:}" --sources "$sources" \
      --per-source "$slots" --reopen-interval 0.2 --ready "$L/ready" --stats "$L/$r.attacker.json" &
    APID=$!
    for _ in $(seq 1 100); do [ -e "$L/ready" ] && break; sleep 0.1; done
    sleep 1
  fi
  before=("$(counter refused_source)" "$(counter evicted)" "$(counter refused)")
  l=$(loadavg)
  say "lockout run $r (sources: ${sources:-none}, load $l)"
  "$SIM" enroll --fleet "$L/fleet-$r" --server "$DADDR" --ca-bundle "$L/state/ca.crt" \
    --concurrency 8 --timeout 60 --json "$L/$r.json" > "$L/$r.txt" 2>&1 || true
  after=("$(counter refused_source)" "$(counter evicted)" "$(counter refused)")
  stop_attacker
  IFS=$'\t' read -r -a fig < <(jq -r '[.ok, .failed, .rate_per_second, .all.latency_ms.p50,
    .all.latency_ms.p99, .all.latency_ms.max, .elapsed_seconds] | @tsv' "$L/$r.json")
  opened=$([ -s "$L/$r.attacker.json" ] && jq .opened "$L/$r.attacker.json" || echo 0)
  tsv_row "$W/lockout.tsv" "$r" "$(echo "$sources" | tr ',' '\n' | grep -c . || true)" "$slots" \
    "${fig[@]}" "$((after[0] - before[0]))" "$((after[1] - before[1]))" \
    "$((after[2] - before[2]))" "$l" "$opened"
  rm -f "$L/$r.attacker.json"
  sleep 1
done
stop_daemon
column -t "$W/lockout.tsv" >&2
