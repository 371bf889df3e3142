#!/usr/bin/env bash
# socket_activation.sh — provisiond serves the socket systemd passes (sd_listen_fds) instead of
# binding --listen: under systemd-socket-activate (from the systemd package; no systemd as PID 1
# needed) the first connection starts the daemon, is served, and a fleet enrolls. A second
# socket named "metrics" serves /metrics, a third named "crl" the live CRL. A passed descriptor
# that is not a listening TCP
# socket is refused at start-up.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/service_lib.sh"

init_state
"$DEVICE_SIM" factory --out "$T/fleet" --count 6 >/dev/null
PORT=$(free_port)
MPORT=$(free_port)
CPORT=$(free_port)
# --listen names an address this host does not have: binding it would fail, so serving at all
# proves the passed socket is used.
systemd-socket-activate -l "127.0.0.1:$PORT" -l "127.0.0.1:$MPORT" -l "127.0.0.1:$CPORT" \
  --fdname=est:metrics:crl \
  "$PROVISIOND" serve --state-dir "$T/state" --trust "$T/fleet/factory-ca.crt" --workers 2 \
  --listen 192.0.2.1:8443 2> "$T/daemon.log" &
DAEMON_PID=$!  # systemd-socket-activate execs provisiond: same process
check "socket bound by the activator before provisiond runs" \
  wait_for_line "$T/daemon.log" "^Listening on 127.0.0.1:$PORT as 3"
expect_eq "provisiond not started before the first connection" "" \
  "$(grep '^<5>listening' "$T/daemon.log" || true)"

# The first connection activates the daemon and is served.
out=$("$DEVICE_SIM" enroll --fleet "$T/fleet" --server "127.0.0.1:$PORT" --ca-bundle "$CA" \
      --devices dev-00001)
expect_contains "first connection served" "enroll: ok=1 failed=0" "$out"
check "daemon says the socket came from systemd" \
  wait_for_line "$T/daemon.log" "^<5>listening on 127.0.0.1:$PORT socket=systemd "
check "metrics on the socket named 'metrics'" \
  wait_for_line "$T/daemon.log" "^<5>metrics_listening address=127.0.0.1:$MPORT "
out=$("$DEVICE_SIM" enroll --fleet "$T/fleet" --server "127.0.0.1:$PORT" --ca-bundle "$CA" \
      --devices dev-00002,dev-00003,dev-00004,dev-00005,dev-00006 --concurrency 5)
expect_contains "the rest of the fleet enrolls" "enroll: ok=5 failed=0" "$out"
check "the CRL on the socket named 'crl'" \
  wait_for_line "$T/daemon.log" "^<5>crl_listening address=127.0.0.1:$CPORT "
check "GET /crl there: a CRL that verifies under ca.crt" bash -c \
  "curl -sf http://127.0.0.1:$CPORT/crl -o '$T/served.crl' &&
   openssl crl -inform DER -in '$T/served.crl' -CAfile '$CA' -noout -verify"
METRICS_URL="http://127.0.0.1:$MPORT"
expect_eq "metrics count the enrollments" 6 "$(metric 'provisiond_enrollments_total{outcome="issued"}')"
expect_eq "6 certificates recorded" 6 "$(sql "SELECT count(*) FROM certificates")"
term_daemon
expect_eq "exit 0 after SIGTERM" 0 "$DAEMON_EXIT"

# Without LISTEN_FDS the daemon binds --listen itself (and fails on an address it lacks).
set +e
"$PROVISIOND" serve --state-dir "$T/state" --trust "$T/fleet/factory-ca.crt" \
  --listen 192.0.2.1:8443 2> "$T/bind.log"
rc=$?
set -e
check "binds --listen itself without a passed socket (exit $rc)" test "$rc" -eq 1
expect_contains "names the bind failure" "listen on 192.0.2.1:8443" "$(cat "$T/bind.log")"

# A passed descriptor that is not a listening socket is refused, naming it.
: > "$T/not-a-socket"
set +e
bash -c 'exec 3<"$1"; shift; LISTEN_PID=$$ LISTEN_FDS=1 exec "$@"' _ "$T/not-a-socket" \
  "$PROVISIOND" serve --state-dir "$T/state" --trust "$T/fleet/factory-ca.crt" 2> "$T/badfd.log"
rc=$?
set -e
expect_eq "bad passed descriptor: exit 1" 1 "$rc"
expect_contains "bad passed descriptor named" "fd 3 is not a socket" "$(cat "$T/badfd.log")"

finish
