#!/usr/bin/env bash
# chain_attack.sh — issue #12 finding 1 under load: good devices' enrollment latency while 4
# attacker threads present the hostile client chain (tests/e2e/hostile_chain.py: an EC leaf and
# four RSA-8192 "CAs" with ~8190-bit exponents) back to back, against the same without
# attackers. Runs quiet, attack, quiet, attack (RUNS pairs) and prints each run's good-device
# p50/p99 and the ratio attack p50 / mean quiet p50, the attackers' handshake rate and outcome,
# the daemon's CPU and the load average. About a minute; not part of the test suite.
#
#   bench/chain_attack.sh [BUILD_DIR]       (default build/; figures go to docs/benchmarks.md)
# Environment: CHAIN_DEVICES good enrollments per run (200), CHAIN_RUNS pairs (2),
# CHAIN_THREADS attacker threads (4), CHAIN_NICE the attackers' nice value (19: a real attacker
# does its client-side crypto on its own machine; here it would otherwise take the CPUs the
# daemon and the devices share; 0: compete as an equal, as device-sim's --slow-nice).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
B=${1:-$ROOT/build}
P=$B/daemon/provisiond
SIM=$B/device-sim/device-sim
N=${CHAIN_DEVICES:-200}
RUNS=${CHAIN_RUNS:-2}
THREADS=${CHAIN_THREADS:-4}
NICE=${CHAIN_NICE:-19}
W=$(mktemp -d "${TMPDIR:-/tmp}/chain-attack.XXXXXX")
DPID="" APID=""
cleanup() {
  [ -n "$APID" ] && kill "$APID" 2> /dev/null || true
  [ -n "$DPID" ] && kill -TERM "$DPID" 2> /dev/null && wait "$DPID" 2> /dev/null || true
  rm -rf "$W"
}
trap cleanup EXIT
HZ=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$DPID/stat"; }

"$P" init --state-dir "$W/state" --server-name localhost > /dev/null
trusts=()
for i in $(seq 1 $((2 * RUNS))); do
  "$SIM" factory --out "$W/fleet-$i" --count "$N" --prefix "r$i-" --ca-name "Factory CA r$i" > /dev/null
  trusts+=(--trust "$W/fleet-$i/factory-ca.crt")
done
python3 "$ROOT/tests/e2e/hostile_chain.py" "$W" issue12
: > "$W/daemon.log"
"$P" serve --state-dir "$W/state" --listen 127.0.0.1:0 --rate-limit-device off "${trusts[@]}" \
  2> "$W/daemon.log" &
DPID=$!
for _ in $(seq 1 100); do
  ADDR=$(sed -n 's/.*listening on \([0-9.]*:[0-9]*\).*/\1/p' "$W/daemon.log")
  [ -n "$ADDR" ] && break
  sleep 0.1
done
[ -n "${ADDR:-}" ] || { cat "$W/daemon.log" >&2; exit 1; }

echo "chain_attack: $(nproc) CPUs, $N good enrollments per run (device-sim, concurrency 1," \
  "TLS 1.3), $THREADS attacker threads at nice $NICE; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '| run | attackers | good ok | good p50 ms | good p99 ms | attacker handshakes (refused) | attacker handshakes/s | daemon CPU s | load (1 min) |\n|---|---|---:|---:|---:|---:|---:|---:|---:|\n'
TSV=${CHAIN_TSV:-}
[ -z "$TSV" ] || printf 'run\tkind\tok\tp50_ms\tp99_ms\tattacker_handshakes\trefused\tattacker_per_second\tdaemon_cpu_ticks\tload1\n' > "$TSV"
quiet_sum=0 quiet_n=0 attack_p50s=()
for i in $(seq 1 $((2 * RUNS))); do
  kind=quiet
  [ $((i % 2)) -eq 0 ] && kind=attack
  t0=$(cpu_ticks)
  if [ "$kind" = attack ]; then
    nice -n "$NICE" python3 "$ROOT/bench/chain_attacker.py" "${ADDR%:*}" "${ADDR#*:}" "$W/issue12.leaf.pem" \
      "$W/issue12.key.pem" "$W/issue12.chain.pem" "$W/stop-$i" "$THREADS" > "$W/attack-$i.txt" &
    APID=$!
    sleep 2  # the attackers are at full speed before the devices start
  fi
  "$SIM" enroll --fleet "$W/fleet-$i" --server "$ADDR" --ca-bundle "$W/state/ca.crt" \
    --concurrency 1 --timeout 60 --json "$W/run-$i.json" > "$W/run-$i.txt" 2>&1 || true
  att="-" rate="-"
  if [ "$kind" = attack ]; then
    touch "$W/stop-$i"
    wait "$APID" 2> /dev/null || true
    APID=""
    att=$(sed -n 's/.*handshakes=\([0-9]*\) refused=\([0-9]*\).*/\1 (\2)/p' "$W/attack-$i.txt")
    rate=$(sed -n 's/.*per_second=\([0-9.]*\).*/\1/p' "$W/attack-$i.txt")
  fi
  t1=$(cpu_ticks)
  p50=$(jq -r .all.latency_ms.p50 "$W/run-$i.json")
  p99=$(jq -r .all.latency_ms.p99 "$W/run-$i.json")
  ok=$(jq -r .ok "$W/run-$i.json")
  if [ "$kind" = attack ]; then
    attack_p50s+=("$p50")
  else
    quiet_sum=$(awk -v a="$quiet_sum" -v b="$p50" 'BEGIN {print a + b}')
    quiet_n=$((quiet_n + 1))
  fi
  printf '| %d | %s | %s | %s | %s | %s | %s | %.2f | %s |\n' "$i" "$kind" "$ok" "$p50" "$p99" \
    "$att" "$rate" "$(awk -v t=$((t1 - t0)) -v hz="$HZ" 'BEGIN {print t / hz}')" \
    "$(cut -d' ' -f1 /proc/loadavg)"
  if [ -n "$TSV" ]; then
    read -r hs refused <<< "$(tr -d '()' <<< "${att/-/- -}")"
    printf '%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n' "$i" "$kind" "$ok" "$p50" "$p99" "$hs" \
      "$refused" "$rate" $((t1 - t0)) "$(cut -d' ' -f1 /proc/loadavg)" >> "$TSV"
  fi
done
quiet=$(awk -v s="$quiet_sum" -v n="$quiet_n" 'BEGIN {printf "%.2f", s / n}')
for p in "${attack_p50s[@]}"; do
  echo "attack p50 / quiet p50 = $p / $quiet = $(awk -v a="$p" -v q="$quiet" 'BEGIN {printf "%.2f", a / q}')x"
done
