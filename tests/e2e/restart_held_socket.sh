#!/usr/bin/env bash
# restart_held_socket.sh — under systemd's socket activation the port outlives the daemon, so a
# restart under load must fail no request: connections the old daemon accepted are served by it
# while it drains, the rest wait in the socket's queue for the next one. restart_load.py holds
# the socket and restarts provisiond 60 times under 16 clients, with 4 workers so that many
# connections are accepted by one worker and handed to another as they stop (a handover to a
# worker that had stopped was closed unserved: a reset to the device, seen in the systemd
# container test). Each daemon must exit 0 with no sanitizer report.
. "$(dirname "$0")/lib.sh"

init_state
"$DEVICE_SIM" factory --out "$T/fleet" --count 1 >/dev/null
: > "$T/daemon.log"
set +e
out=$(timeout 240 python3 "$(dirname "$0")/restart_load.py" "$PROVISIOND" "$T/state" \
      "$T/fleet/factory-ca.crt" "$CA" "$T/fleet/devices/dev-00001" 60 4 16 0.15 "$T/daemon.log" \
      2> "$T/load.err")
rc=$?
set -e
echo "$out"
sort "$T/load.err" | uniq -c | head -5
expect_eq "the load driver ran to the end" 0 "$rc"
check "requests served across 60 restarts, none failed" \
  grep -qE '^ok=[1-9][0-9]* failed=0 restarts=60 bad_exits=0$' <<<"$out"
expect_eq "61 daemons started and stopped" "61 61" \
  "$(grep -c '^<5>listening on .* socket=systemd' "$T/daemon.log") $(grep -c '^<5>stopped$' "$T/daemon.log")"
if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:|WARNING: ThreadSanitizer' "$T/daemon.log"; then
  fail "sanitizer report in the daemons' log"
fi
finish
