#!/usr/bin/env bash
# 50_handshake.sh — section 5: full mutual-auth handshakes one at a time (openssl s_time) against
# provisiond and against openssl s_server with the same keys -> handshake.tsv.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/../lib.sh"
SPID=""
trap 'stop_daemon; [ -z "$SPID" ] || kill "$SPID" 2> /dev/null || true' EXIT
DEV=$W/fleet-c1/devices/c1-00001
[ -d "$DEV" ] || DEV=$(find "$W/fleet-c1/devices" -mindepth 1 -maxdepth 1 | sort | head -1)
meta_once hz "$HZ"
tsv_new "$W/handshake.tsv" server tls connections wall_s server_cpu_ticks
stime() {  # stime SERVER-LABEL TLS-VERSION HOST:PORT PID -> one row
  # s_time's own "in N real seconds" is whole seconds; time the run here instead.
  local t0 t1 w0 w1 out
  t0=$(cpu_ticks "$4")
  w0=$(date +%s.%N)
  out=$(openssl s_time -connect "$3" -new -cert "$DEV/bootstrap.crt" -key "$DEV/bootstrap.key" \
    -CAfile "$W/state/ca.crt" -time 5 "-tls${2/./_}" 2> /dev/null |
    grep 'connections in .* real seconds' || echo 0)
  w1=$(date +%s.%N)
  t1=$(cpu_ticks "$4")
  tsv_row "$W/handshake.tsv" "$1" "$2" "${out%% *}" "$(echo "$w1 - $w0" | bc)" "$((t1 - t0))"
}
say "openssl s_time"
start_daemon stime-daemon
meta handshake_load "$(loadavg)"
# shellcheck disable=SC2153  # DPID is set by start_daemon (lib.sh)
stime "provisiond (mbedTLS)" 1.3 "$DADDR" "$DPID"
stime "provisiond (mbedTLS)" 1.2 "$DADDR" "$DPID"
stop_daemon
SPORT=$((20000 + RANDOM % 20000))
openssl s_server -accept "127.0.0.1:$SPORT" -cert "$W/state/server.crt" -key "$W/state/server.key" \
  -CAfile "$W/fleet-c1/factory-ca.crt" -Verify 1 -quiet > /dev/null 2>&1 &
SPID=$!
sleep 0.5
stime "openssl s_server -Verify 1" 1.3 "127.0.0.1:$SPORT" "$SPID"
stime "openssl s_server -Verify 1" 1.2 "127.0.0.1:$SPORT" "$SPID"
kill "$SPID"
wait "$SPID" 2> /dev/null || true
SPID=""
