#!/usr/bin/env bash
# 38_token.sh — section 3d: server CPU and latency per enrollment with the CA key in a PKCS#11
# token (SoftHSM2, loaded in the daemon's process) and in a file, alternated A/B twice
# (file, token, file, token) so that other load hits both alike -> token.tsv.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/../lib.sh"
NTOK=${BENCH_NTOK:-1000}
CTOK=8
SOFTHSM_MODULE=/usr/lib/softhsm/libsofthsm2.so
[ -e "$SOFTHSM_MODULE" ] || { say "38_token needs softhsm2 (scripts/install-deps.sh)"; exit 1; }

# A token of the run's own: SoftHSM2 with its own config and token directory under $W.
H=$W/hsm
rm -rf "$H" "$W/state-file" "$W/state-token"
mkdir -p "$H/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$H/tokens" \
  > "$H/softhsm2.conf"
export SOFTHSM2_CONF=$H/softhsm2.conf
pin=bench-$RANDOM$RANDOM
softhsm2-util --init-token --free --label provisiond --pin "$pin" --so-pin "so-$pin" > /dev/null
(umask 077 && printf '%s\n' "$pin" > "$H/pin")
"$P" init --state-dir "$W/state-file" > /dev/null
"$P" init --state-dir "$W/state-token" \
  --ca-key-uri "pkcs11:token=provisiond;object=ca?module-path=$SOFTHSM_MODULE&pin-source=file:$H/pin" \
  > /dev/null
RUNS=(file1 token1 file2 token2)
for r in "${RUNS[@]}"; do
  "$SIM" factory --out "$W/fleet-$r" --count "$NTOK" --prefix "$r-" --ca-name "bench $r factory" \
    > /dev/null
done

start_keyed() {  # start_keyed RUN: the daemon on the run's state dir, trusting the run's fleet
  local log=$W/$1.log
  : > "$log"
  "$P" serve --state-dir "$W/state-${1%[0-9]}" --listen 127.0.0.1:0 --rate-limit-device off \
    --trust "$W/fleet-$1/factory-ca.crt" 2> "$log" &
  DPID=$!
  DADDR=""
  for _ in $(seq 1 100); do
    DADDR=$(sed -n 's/.*listening on \([0-9.]*:[0-9]*\).*/\1/p' "$log")
    [ -n "$DADDR" ] && break
    sleep 0.1
  done
  [ -n "$DADDR" ] || { cat "$log" >&2; exit 1; }
}

meta_once hz "$HZ"
meta token_devices "$NTOK"
meta token_concurrency "$CTOK"
meta token_softhsm "$(dpkg-query -W -f='${Version}' softhsm2 2> /dev/null || echo '?')"
tsv_new "$W/token.tsv" run key ok failed rate_per_second p50_ms p99_ms elapsed_s daemon_cpu_ticks \
  load
for r in "${RUNS[@]}"; do
  say "enroll c=$CTOK ($NTOK), CA key in a ${r%[0-9]}"
  start_keyed "$r"
  l=$(loadavg)
  t0=$(cpu_ticks "$DPID")
  "$SIM" enroll --fleet "$W/fleet-$r" --server "$DADDR" --ca-bundle "$W/state-${r%[0-9]}/ca.crt" \
    --concurrency "$CTOK" --timeout 60 --json "$W/$r.json" > "$W/$r.txt" 2>&1 || true
  t1=$(cpu_ticks "$DPID")
  IFS=$'\t' read -r -a f < <(jq -r '[.ok, .failed, .rate_per_second, .all.latency_ms.p50,
    .all.latency_ms.p99, .elapsed_seconds] | @tsv' "$W/$r.json")
  tsv_row "$W/token.tsv" "$r" "${r%[0-9]}" "${f[@]}" "$((t1 - t0))" "$l"
  stop_daemon
done
