#!/usr/bin/env bash
# reload_under_load.sh — SIGHUP while a fleet enrolls in a loop. The new config file drops one
# manufacturer CA from the trust directory and changes the certificate profile: no good device
# fails during the reload, a connection established before it keeps working (it keeps its TLS
# context), new connections from a device of the removed CA fail with unknown_ca, and new
# certificates carry the new profile. A bad new config is refused with a log line and the old
# one stays in force; a restart-only change is named and ignored.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/service_lib.sh"

init_state
"$DEVICE_SIM" factory --out "$T/fleet-a" --count 40 --ca-name "Factory A" >/dev/null
# Factory B's ids differ from A's: in the default global identity scope a second factory's
# dev-00001 is the same device and would be refused (issue #12 finding 9).
"$DEVICE_SIM" factory --out "$T/fleet-b" --count 3 --ca-name "Factory B" --prefix fb- >/dev/null
mkdir "$T/trust"
cp "$T/fleet-a/factory-ca.crt" "$T/trust/a.crt"
cp "$T/fleet-b/factory-ca.crt" "$T/trust/b.crt"
write_config() {  # write_config ORG [extra serve lines]
  # The load below re-enrolls each device many times in 6 s: no per-certificate rate limit
  # (the default 20/1h would answer 429 + Retry-After and stall the run on a fast machine).
  local rate='rate-limit-device = "off"\n'
  case "${2:-}" in *rate-limit-device*) rate="" ;; esac
  printf '[serve]\nstate-dir = "%s"\ntrust = ["%s"]\norg = "%s"\n%b%b' \
    "$T/state" "$T/trust" "$1" "$rate" "${2:-}" > "$T/provisiond.toml"
}
write_config Before
start_daemon --config "$T/provisiond.toml"
A=("$DEVICE_SIM" enroll --fleet "$T/fleet-a" --server "127.0.0.1:$PORT" --ca-bundle "$CA")
B=("$DEVICE_SIM" enroll --fleet "$T/fleet-b" --server "127.0.0.1:$PORT" --ca-bundle "$CA")

expect_contains "a Factory B device enrolls before the reload" "ok=1 failed=0" \
  "$("${B[@]}" --devices fb-00001)"
expect_contains "issued with the old profile" "O = Before" \
  "$(openssl x509 -in "$T/fleet-b/devices/fb-00001/operational.crt" -noout -subject)"

# A keep-alive connection authenticated by a Factory B device, opened before the reload and
# used again after it.
python3 - "$PORT" "$CA" "$T/fleet-b/devices/fb-00002" "$T/reloaded" > "$T/keepalive.out" 2>&1 <<'PY' &
import os, socket, ssl, sys, time
port, ca, dev, flag = sys.argv[1:5]
ctx = ssl.create_default_context(cafile=ca)
ctx.load_cert_chain(dev + "/bootstrap.crt", dev + "/bootstrap.key")
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(port))), server_hostname="localhost")
f = s.makefile("rb")
def get():
    s.sendall(b"GET /.well-known/est/cacerts HTTP/1.1\r\nHost: localhost\r\n\r\n")
    status = f.readline().split()[1].decode()
    length = 0
    while (line := f.readline()) not in (b"\r\n", b""):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    f.read(length)
    return status
print("before", get(), flush=True)
for _ in range(200):
    if os.path.exists(flag): break
    time.sleep(0.05)
print("after", get(), flush=True)
PY
KEEPALIVE_PID=$!
check "keep-alive connection up before the reload" wait_for_line "$T/keepalive.out" '^before 200$'

# Devices 1-30 enroll, then retry with the same key (200, already issued) in a loop for 6 s.
"${A[@]}" --devices "$(seq -f 'dev-%05g' 1 30 | paste -sd,)" --duration 6 --allow-reuse \
  --concurrency 8 > "$T/load.out" 2>&1 &
LOAD_PID=$!
sleep 2
rm "$T/trust/b.crt"
write_config After
kill -HUP "$DAEMON_PID"
check "reloaded" wait_for_line "$T/daemon.log" '^<5>reloaded trust_files=1 '
touch "$T/reloaded"
wait "$KEEPALIVE_PID" || true
expect_eq "the established connection keeps working after the reload" "after 200" \
  "$(grep '^after' "$T/keepalive.out" || cat "$T/keepalive.out")"
rc=0
wait "$LOAD_PID" || rc=$?
load=$(cat "$T/load.out")
expect_eq "load generator exit status" 0 "$rc"
expect_contains "no good device failed during the reload" "failed=0" "$load"
ok=$(printf '%s\n' "$load" | sed -n 's/.*enroll: ok=\([0-9]*\).*/\1/p' | head -1)
check "the load really ran across the reload (ok=$ok)" test "${ok:-0}" -ge 40
expect_eq "no handshake failed during the load" 0 "$(grep -c 'handshake_failed' "$T/daemon.log" || true)"

out=$("${B[@]}" --devices fb-00003 2>&1 || true)
expect_contains "a Factory B device now fails" "ok=0 failed=1" "$out"
expect_contains "with unknown_ca (48)" "fatal alert 48" "$out"
check "logged as unknown_ca" grep -q '^<4>handshake_failed.*alert=unknown_ca(48)' "$T/daemon.log"
expect_contains "a new Factory A device still enrolls" "ok=1 failed=0" "$("${A[@]}" --devices dev-00040)"
expect_contains "issued with the new profile" "O = After" \
  "$(openssl x509 -in "$T/fleet-a/devices/dev-00040/operational.crt" -noout -subject)"

# A bad new config is refused; the old one stays in force.
write_config Broken 'validity-days = 0\n'
kill -HUP "$DAEMON_PID"
check "invalid value refused" wait_for_line "$T/daemon.log" '^<3>reload_refused reason=.*validity-days'
write_config Broken
mv "$T/trust" "$T/trust.gone"
kill -HUP "$DAEMON_PID"
check "missing trust directory refused" \
  wait_for_line "$T/daemon.log" "^<3>reload_refused reason=\"?$T/trust: not found"
mv "$T/trust.gone" "$T/trust"
expect_contains "old config still in force: Factory A enrolls" "ok=1 failed=0" \
  "$("${A[@]}" --devices dev-00039)"
expect_contains "... with the old profile" "O = After" \
  "$(openssl x509 -in "$T/fleet-a/devices/dev-00039/operational.crt" -noout -subject)"
expect_contains "... and Factory B is still refused" "ok=0 failed=1" \
  "$("${B[@]}" --devices fb-00003 2>&1 || true)"
check "daemon still running" kill -0 "$DAEMON_PID"

# A restart-only change is named, ignored, and the rest applies.
write_config Again 'rate-limit-device = "1/1h"\n'
kill -HUP "$DAEMON_PID"
check "restart-only change named" \
  wait_for_line "$T/daemon.log" '^<4>reload_ignored setting=rate-limit-device reason="needs a restart"'
check "the rest applied" wait_for_line "$T/daemon.log" '^<5>reloaded trust_files=1 '
expect_eq "two reloads applied, two refused" "2 2" \
  "$(grep -c '^<5>reloaded ' "$T/daemon.log") $(grep -c '^<3>reload_refused ' "$T/daemon.log")"

finish
