#!/usr/bin/env bash
# systemd_container.sh — the installed units under a real systemd 252 (a Debian 12 container,
# container_lib.sh), driven with systemctl and journalctl as an operator would: notify start and
# status, enrollment, journal priorities, reload (applied; a broken config fails the command and
# keeps the old one; no /bin/kill needed), the config directory read-only, stop within 2 s with
# an idle connection and a request in flight, watchdog restart, socket activation restarted under
# load, a broken config settling in `failed`, and `systemd-analyze security` <= 1.5.
# `systemd_container.sh deb` runs the same checks on the Debian package, installed with
# `apt-get install ./provisiond_*.deb` (offline) instead of `cmake --install`.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/service_lib.sh"
. "$(dirname "$0")/container_lib.sh"

container_require
began=$SECONDS
MODE=${1:-cmake}
container_prepare
if [ "$MODE" = deb ]; then container_install_deb; else container_install_cmake; fi
container_boot
echo "container running after $((SECONDS - began)) s"
if [ "$MODE" = deb ]; then
  # The package: installed by apt from what the root holds; user and directories made; nothing
  # enabled or started.
  if container_apt_install; then pass "apt-get install ./provisiond_*.deb (offline)"; else
    fail "apt-get install ./provisiond_*.deb (offline): $(tail -5 "$T/apt.log")"; fi
  # shellcheck disable=SC2016  # dpkg-query's format, not a shell expansion
  expect_eq "dpkg: installed" "install ok installed" "$(in_ct dpkg-query -W -f '${Status}' provisiond)"
  expect_eq "the unit is disabled after install" disabled \
    "$(in_ct systemctl is-enabled provisiond.service || true)"
  expect_eq "the socket is disabled after install" disabled \
    "$(in_ct systemctl is-enabled provisiond.socket || true)"
  expect_eq "the unit is inactive after install" inactive \
    "$(in_ct systemctl is-active provisiond.service || true)"
  expect_eq "the socket is inactive after install" inactive \
    "$(in_ct systemctl is-active provisiond.socket || true)"
  expect_contains "ExecStart=/usr/bin/provisiond" "path=/usr/bin/provisiond " \
    "$(in_ct systemctl show -P ExecStart provisiond.service)"
  check "the package made the provisiond user" in_ct getent passwd provisiond
  expect_eq "the package made /var/lib/provisiond 0700 provisiond" "700 provisiond" \
    "$(in_ct stat -c '%a %U' /var/lib/provisiond 2>&1)"
  check "the package made /etc/provisiond/trust" in_ct test -d /etc/provisiond/trust
  echo "package installed after $((SECONDS - began)) s"
fi
CONF="$ROOT/etc/provisiond/provisiond.toml"
CA="$ROOT/var/lib/provisiond/ca.crt"
SIM=(in_net "$DEVICE_SIM")
SIM_ARGS=(--fleet "$T/fleet" --server 127.0.0.1:8443 --ca-bundle "$CA")
journal() { in_ct journalctl -u provisiond.service --no-pager "$@"; }
prop() { in_ct systemctl show -P "$1" provisiond.service; }
days_left() {  # days_left DEVICE: whole days until its operational certificate expires
  local end
  end=$(openssl x509 -noout -enddate -in "$T/fleet/devices/$1/operational.crt" | cut -d= -f2)
  echo $(( ($(date -d "$end" +%s) - $(date +%s)) / 86400 ))
}
write_config() {  # write_config [EXTRA LINE...]
  printf '%s\n' 'log-level = "info"' '[serve]' 'state-dir = "/var/lib/provisiond"' \
    'trust = ["/etc/provisiond/trust"]' 'listen = "0.0.0.0:8443"' "$@" > "$CONF"
}

# The README's steps, inside the container.
check "no /bin/kill in the image (the reload must not need procps)" test ! -e "$ROOT/bin/kill"
"$DEVICE_SIM" factory --out "$T/fleet" --count 8 >/dev/null
if [ "$MODE" != deb ]; then  # the package did these itself
  in_ct systemd-sysusers provisiond.conf
  in_ct systemd-tmpfiles --create provisiond.conf
fi
cp "$T/fleet/factory-ca.crt" "$ROOT/etc/provisiond/trust/"
write_config
in_ct runuser -u provisiond -- provisiond init --state-dir /var/lib/provisiond \
  --server-name localhost >/dev/null
check "check-config as the service user" in_ct provisiond check-config --service-user provisiond
in_ct systemctl daemon-reload

# 1. Notify start, status, enrollment, journal priorities.
check "systemctl start (Type=notify)" in_ct systemctl start provisiond
expect_eq "active" active "$(in_ct systemctl is-active provisiond || true)"
expect_contains "status line from STATUS=" "running: connections=" "$(prop StatusText)"
out=$("${SIM[@]}" enroll "${SIM_ARGS[@]}" --devices dev-00001 2>&1 || true)
expect_contains "a device enrolls" "enroll: ok=1 failed=0" "$out"
# No client certificate: a handshake failure (warning).
in_net curl -s -o /dev/null --max-time 5 --cacert "$CA" \
  https://localhost:8443/.well-known/est/cacerts || true
for _ in $(seq 1 50); do  # journald takes the lines asynchronously
  journal -o cat | grep -q handshake_failed && break
  sleep 0.1
done
expect_contains "issued at priority notice" "issued" "$(journal -p notice..notice -o cat)"
if journal -p warning -o cat | grep -q '^issued'; then fail "issued shown at warning and above"; else
  pass "issued not shown by -p warning"; fi
expect_contains "handshake failure at priority warning" "handshake_failed" \
  "$(journal -p warning..warning -o cat)"
expect_contains "listening at priority notice" "listening" "$(journal -p notice..notice -o cat)"
if journal -o cat | grep -q '^<[0-7]>'; then fail "a <N> prefix reached the journal"; else
  pass "no <N> prefix left in the journal"; fi

# 2. Security, and /etc/provisiond read-only inside the sandbox.
sec=$(in_ct systemd-analyze security provisiond.service 2>&1 | grep 'Overall exposure' || true)
echo "inside: $sec"
check "systemd-analyze security <= 1.5 ($sec)" \
  awk -v s="$(sed -n 's/.*: \([0-9.]*\) .*/\1/p' <<<"$sec")" 'BEGIN { exit !(s != "" && s + 0 <= 1.5) }'
pid=$(prop MainPID)
[ "$MODE" = deb ] && expect_eq "the packaged binary runs" /usr/bin/provisiond "$(in_ct readlink "/proc/$pid/exe")"
out=$(in_ct nsenter -t "$pid" -m touch /etc/provisiond/probe 2>&1 || true)
expect_contains "config dir read-only in the service's mount namespace" "Read-only file system" "$out"

# 3. Reload: applied; a broken config fails the command and the old config stays.
write_config 'validity-days = 7'
check "systemctl reload (no /bin/kill in the image)" in_ct systemctl reload provisiond
out=$("${SIM[@]}" enroll "${SIM_ARGS[@]}" --devices dev-00002 2>&1 || true)
expect_contains "enrolls after the reload" "enroll: ok=1 failed=0" "$out"
check "reload applied: validity 7 days (got $(days_left dev-00002))" test "$(days_left dev-00002)" -le 7
cp "$CONF" "$T/good.toml"
echo 'no-such-setting = 1' >> "$CONF"
if in_ct systemctl reload provisiond 2> "$T/reload.err"; then
  fail "systemctl reload of a broken config exited 0"
else
  pass "systemctl reload of a broken config exits non-zero ($(head -1 "$T/reload.err"))"
fi
expect_eq "still active after the refused reload" active "$(in_ct systemctl is-active provisiond || true)"
expect_eq "same main process" "$pid" "$(prop MainPID)"
expect_contains "the refusal's reason in the journal" "no-such-setting" "$(journal -o cat)"
out=$("${SIM[@]}" enroll "${SIM_ARGS[@]}" --devices dev-00003 2>&1 || true)
expect_contains "enrolls after the refused reload" "enroll: ok=1 failed=0" "$out"
check "old config kept: validity still 7 days" test "$(days_left dev-00003)" -le 7
cp "$T/good.toml" "$CONF"

# 4. Stop within 2 s with a silent connection open and a request in flight (which finishes).
CLIENT="$(dirname "$0")/service_client.py"
in_net python3 "$CLIENT" silent 8443 "$CA" "$T/fleet/devices/dev-00004" > "$T/silent.out" 2>&1 &
SILENT=$!
make_csr dev-00005 "$T/dev-00005"
in_net python3 "$CLIENT" slow 8443 "$CA" "$T/fleet/devices/dev-00005" "$T/dev-00005.b64" \
  "$T/slow.go" > "$T/slow.out" 2>&1 &
SLOW=$!
check "silent connection open" wait_for_line "$T/silent.out" '^ready'
check "enrollment half sent" wait_for_line "$T/slow.out" '^ready'
start=$(date +%s%N)
stop_at=$(date +%s.%N)
in_ct systemctl stop provisiond &
STOP=$!
wait_for_line "$T/silent.out" '^closed' 3 || true
touch "$T/slow.go"
wait "$STOP" || fail "systemctl stop failed"
stop_ms=$(( ($(date +%s%N) - start) / 1000000 ))
wait "$SILENT" "$SLOW" || true
check "stopped within 2 s (${stop_ms} ms)" test "$stop_ms" -lt 2000
expect_eq "the request in flight finished" "HTTP/1.1 200 OK" "$(grep '^HTTP' "$T/slow.out" || true)"
closed=$(awk -v t="$stop_at" '$1 == "closed" { printf "%.1f", $3 - t }' "$T/silent.out")
check "the silent connection was closed at once (${closed:-not} s after the stop)" \
  awk -v d="$closed" 'BEGIN { exit !(d != "" && d + 0 <= 1) }'

# 5. Watchdog: a stopped daemon is killed and restarted (WatchdogSec shortened for the test).
mkdir -p "$ROOT/etc/systemd/system/provisiond.service.d"
printf '[Service]\nWatchdogSec=2s\nTimeoutAbortSec=2s\nLimitCORE=0\n' \
  > "$ROOT/etc/systemd/system/provisiond.service.d/watchdog-test.conf"
in_ct systemctl daemon-reload
in_ct systemctl start provisiond
pid=$(prop MainPID)
in_ct sh -c "kill -STOP $pid"
for _ in $(seq 1 150); do
  new=$(prop MainPID)
  [ "$new" != "$pid" ] && [ "$new" != 0 ] && [ "$(in_ct systemctl is-active provisiond)" = active ] && break
  sleep 0.1
done
check "restarted by the watchdog (pid $pid -> $new)" test "$new" != "$pid" -a "$new" != 0
expect_contains "watchdog timeout in the journal" "Watchdog timeout" "$(journal -o cat)"
rm "$ROOT/etc/systemd/system/provisiond.service.d/watchdog-test.conf"
in_ct systemctl daemon-reload
in_ct systemctl stop provisiond

# 6. Socket activation: systemd holds the port; a restart under load fails no request.
check "systemctl start provisiond.socket" in_ct systemctl start provisiond.socket
out=$("${SIM[@]}" enroll "${SIM_ARGS[@]}" --devices dev-00006 2>&1 || true)
expect_contains "the first connection activates the service and enrolls" "enroll: ok=1 failed=0" "$out"
pid=$(prop MainPID)
in_net python3 "$CLIENT" load 8443 "$CA" "$T/fleet/devices/dev-00007" 3 > "$T/load.out" 2>&1 &
LOAD=$!
sleep 1
check "systemctl restart under load" in_ct systemctl restart provisiond.service
sleep 1
wait "$LOAD" || true
echo "load: $(cat "$T/load.out")"
check "requests served across the restart, none failed" grep -qE '^ok=[1-9][0-9]* failed=0$' "$T/load.out"
check "a new main process" test "$(prop MainPID)" != "$pid"
in_ct systemctl stop provisiond.socket provisiond.service

# 7. A broken config settles in `failed` with its reason in the journal.
# reset-failed clears the start counter of the starts above, as an operator would.
in_ct systemctl reset-failed provisiond 2>/dev/null || true  # not loaded when inactive
cursor=$(in_ct journalctl -u provisiond.service -n 0 --show-cursor | sed -n 's/^-- cursor: //p')
echo 'no-such-setting = 1' >> "$CONF"
began_failing=$SECONDS
in_ct systemctl start provisiond 2>/dev/null || true
state=""
for _ in $(seq 1 300); do
  state=$(in_ct systemctl is-active provisiond || true)
  [ "$state" = failed ] && break
  sleep 0.1
done
expect_eq "broken config settles in failed ($(prop Result) after $(prop NRestarts) restarts, \
$((SECONDS - began_failing)) s)" failed "$state"
out=$(journal -o cat --after-cursor "$cursor")
expect_contains "the reason in the journal" "provisiond check-config: " "$out"
expect_contains "the start limit in the journal" "Start request repeated too quickly" "$out"

echo "systemd container test ($MODE) took $((SECONDS - began)) s"
journal -o short-precise > "$T/daemon.log" 2>&1 || true  # finish shows it if a check failed
finish
