#!/usr/bin/env bash
# sd_notify.sh — the Type=notify protocol against a stand-in for systemd's notify socket:
# READY=1 only once listening (the database is open before), STATUS= with counters, WATCHDOG=1
# at half of WATCHDOG_USEC, RELOADING=1 then READY=1 on SIGHUP, STOPPING=1 on SIGTERM, exit 0.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/service_lib.sh"

init_state
"$DEVICE_SIM" factory --out "$T/fleet" --count 2 >/dev/null
start_notify_listener
export NOTIFY_SOCKET="$T/notify.sock" WATCHDOG_USEC=400000
start_daemon --trust "$T/fleet/factory-ca.crt"
unset NOTIFY_SOCKET WATCHDOG_USEC

check "READY=1 received" wait_for_line "$NOTIFY_LOG" '^READY=1\|STATUS=running: connections=0 issued=0'
expect_eq "READY=1 is the first notification" "READY=1" "$(head -1 "$NOTIFY_LOG" | cut -d'|' -f1)"
check "WATCHDOG=1 pings (every 0.2 s for WatchdogSec=0.4s)" \
  wait_for_line "$NOTIFY_LOG" '^WATCHDOG=1$' 3
sleep 1
pings=$(grep -c '^WATCHDOG=1$' "$NOTIFY_LOG")
check "several WATCHDOG=1 pings ($pings)" test "$pings" -ge 3

out=$("$DEVICE_SIM" enroll --fleet "$T/fleet" --server "127.0.0.1:$PORT" --ca-bundle "$CA")
expect_contains "a device enrolls" "ok=2 failed=0" "$out"
check "STATUS= counts the enrollments" wait_for_line "$NOTIFY_LOG" 'STATUS=running: .* issued=2 ' 8

kill -HUP "$DAEMON_PID"
check "RELOADING=1 on SIGHUP" wait_for_line "$NOTIFY_LOG" '^RELOADING=1$'
check "READY=1 again after the reload" wait_for_line "$NOTIFY_LOG" '^READY=1\|STATUS=running: .* issued=2'
check "reload logged" wait_for_line "$T/daemon.log" '^<5>reloaded trust_files=1'

term_daemon
expect_eq "exit status 0 after SIGTERM" 0 "$DAEMON_EXIT"
check "STOPPING=1 on SIGTERM" grep -q '^STOPPING=1' "$NOTIFY_LOG"
expect_eq "nothing after STOPPING=1 but pings" "" \
  "$(sed -n '/^STOPPING=1/,$p' "$NOTIFY_LOG" | tail -n +2 | grep -v '^WATCHDOG=1$' || true)"
expect_eq "order: READY, RELOADING, READY, STOPPING" "READY RELOADING READY STOPPING" \
  "$(grep -oE '^(READY|RELOADING|STOPPING)=1' "$NOTIFY_LOG" | cut -d= -f1 | paste -sd' ')"
check "the database was closed before 'stopped'" grep -q '^<5>stopped$' "$T/daemon.log"

# Not under systemd (no NOTIFY_SOCKET): nothing changes, the daemon runs as before. Signals
# that arrive while a reload runs are still taken by the signal loop, never by another thread
# (where SIGHUP's default action would kill the process).
start_daemon --trust "$T/fleet/factory-ca.crt"
check "runs without a notify socket" kill -0 "$DAEMON_PID"
for _ in 1 2 3 4 5 6 7 8; do kill -HUP "$DAEMON_PID"; done
kill -TERM "$DAEMON_PID"
term_daemon
expect_eq "a burst of SIGHUP then SIGTERM: clean exit 0" 0 "$DAEMON_EXIT"
check "... after at least one reload" grep -q '^<5>reloaded ' "$T/daemon.log"
check "... and a clean stop" grep -q '^<5>stopped$' "$T/daemon.log"

finish
