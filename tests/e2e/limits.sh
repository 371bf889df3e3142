#!/usr/bin/env bash
# The limits that protect the daemon, each set small: --max-connections (the excess is closed at
# accept when no connection is still in its handshake to evict, counted in /metrics and logged
# at most once a second with the count; source_lockout.sh tests the eviction), the handshake,
# request and idle timeouts, --max-header-bytes and --max-body-bytes; and a device-sim fleet that
# enrolls in full while 40 slowloris connections trickle bytes. Times are asserted as bounds wide
# enough for a loaded machine, never as exact values.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/service_lib.sh"

make_openssl_ca factory
make_openssl_device factory dev-l
init_state
start_daemon --trust "$T/factory.crt" --rate-limit-device off --metrics-listen 0 \
  --max-connections 6 --handshake-timeout 2s --request-timeout 2s --idle-timeout 1s \
  --max-header-bytes 2048 --max-body-bytes 4096
MPORT=$(sed -n 's/^<5>metrics_listening address=127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$T/daemon.log")
METRICS_URL="http://127.0.0.1:$MPORT"

# One Python helper per case; prints what the test compares.
probe() {
  python3 - "$1" "$PORT" "$CA" "$T/dev-l.crt" "$T/dev-l.key" <<'PY'
import socket, ssl, sys, time
case, port, ca, crt, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]

def tcp():
    return socket.create_connection(("127.0.0.1", port), timeout=10)

def tls():
    ctx = ssl.create_default_context(cafile=ca)
    ctx.load_cert_chain(crt, key)
    s = ctx.wrap_socket(tcp(), server_hostname="localhost")
    s.settimeout(10)
    return s

def seconds_until_closed(s):
    t0 = time.monotonic()
    try:
        while s.recv(4096):
            pass
    except (ConnectionResetError, ssl.SSLError, socket.timeout):
        pass
    return time.monotonic() - t0

def reply(s, data):
    s.sendall(data)
    out = b""
    try:
        while b"\r\n\r\n" not in out:
            chunk = s.recv(4096)
            if not chunk:
                break
            out += chunk
    except (ConnectionResetError, ssl.SSLError):
        pass
    return out.split(b"\r\n", 1)[0].decode(errors="replace")

if case == "max-connections":
    # 6 held past their handshake (a silent one would be evicted for a newcomer), then 20
    # more: each closed at accept, so recv sees EOF at once.
    held = [tls() for _ in range(6)]
    time.sleep(0.3)
    fast = 0
    for _ in range(20):
        s = tcp()
        if seconds_until_closed(s) < 1.0:
            fast += 1
        s.close()
    print(fast)
    for s in held:
        s.close()
elif case == "handshake-timeout":
    s = tcp()
    s.sendall(bytes.fromhex("160301"))  # the start of a ClientHello record, then nothing
    print("%.1f" % seconds_until_closed(s))
elif case == "request-timeout":
    s = tls()
    s.sendall(b"GET /.well-known/est/cacerts HTTP/1.1\r\nHost: x\r\n")  # no blank line
    print("%.1f" % seconds_until_closed(s))
elif case == "idle-timeout":
    s = tls()
    status = reply(s, b"GET /.well-known/est/cacerts HTTP/1.1\r\nHost: x\r\n\r\n")
    print(status, "%.1f" % seconds_until_closed(s))
elif case == "header-bytes":
    s = tls()
    print(reply(s, b"GET /.well-known/est/cacerts HTTP/1.1\r\nX-Big: " + b"a" * 3000 + b"\r\n\r\n"))
elif case == "body-bytes":
    s = tls()
    print(reply(s, b"POST /.well-known/est/simpleenroll HTTP/1.1\r\nHost: x\r\n"
                   b"Content-Type: application/pkcs10\r\nContent-Length: 5000\r\n\r\n"))
PY
}

expect_eq "20 connections over --max-connections 6 closed at once" 20 "$(probe max-connections)"
expect_eq "counted as refused" 20 "$(metric 'provisiond_connections_total{event="refused"}')"
sleep 1.2  # the refusals not logged yet go out with the next sweep after a second
lines=$(grep -c '^<4>connection_refused' "$T/daemon.log" || true)
logged=$(sed -n 's/^<4>connection_refused .*refused=\([0-9]*\).*/\1/p' "$T/daemon.log" |
  awk '{n += $1} END {print n + 0}')
check "logged at most once a second per worker ($lines lines)" test "$lines" -ge 1 -a "$lines" -le 4
expect_eq "the lines account for every refusal" 20 "$logged"

t=$(probe handshake-timeout)
check "a stalled handshake is closed after --handshake-timeout 2s (${t}s)" \
  awk -v t="$t" 'BEGIN {exit !(t >= 1.5 && t < 6)}'
t=$(probe request-timeout)
check "a half-sent request is closed after --request-timeout 2s (${t}s)" \
  awk -v t="$t" 'BEGIN {exit !(t >= 1.5 && t < 6)}'
read -r proto code _ t <<< "$(probe idle-timeout)"
expect_eq "keep-alive request answered" "HTTP/1.1 200" "$proto $code"
check "an idle keep-alive connection is closed after --idle-timeout 1s (${t}s)" \
  awk -v t="$t" 'BEGIN {exit !(t >= 0.7 && t < 5)}'
expect_eq "headers over --max-header-bytes 2048 -> 431" \
  "HTTP/1.1 431 Request Header Fields Too Large" "$(probe header-bytes)"
expect_eq "body over --max-body-bytes 4096 -> 413" "HTTP/1.1 413 Content Too Large" \
  "$(probe body-bytes)"
stop_daemon

# Slowloris: 40 connections trickle a ClientHello or (after a full handshake) a header, one byte
# every 0.2 s, while 60 devices enroll at concurrency 8. Every device must get its certificate;
# the slow ones are closed by the timeouts and reopened.
"$DEVICE_SIM" factory --out "$T/fleet" --count 60 >/dev/null
start_daemon --trust "$T/fleet/factory-ca.crt" --rate-limit-device off --handshake-timeout 2s \
  --request-timeout 2s
out=$("$DEVICE_SIM" enroll --fleet "$T/fleet" --server "127.0.0.1:$PORT" --ca-bundle "$CA" \
  --concurrency 8 --rate 20 --slow 40 --slow-interval 0.2 --json "$T/slow.json")
expect_contains "all 60 devices enrolled beside the slowloris" "ok=60 failed=0" "$out"
expect_eq "every slow connection was open before the fleet started" 40 \
  "$(jq .slow.open_at_start "$T/slow.json")"
closed=$(jq '.slow.hello.closed_by_server + .slow.header.closed_by_server' "$T/slow.json")
check "the server closed slow connections at its timeouts ($closed)" test "$closed" -ge 20
expect_eq "certificates issued" 60 "$(sql 'SELECT count(*) FROM certificates')"
finish
