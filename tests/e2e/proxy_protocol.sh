#!/usr/bin/env bash
# provisiond behind a real HAProxy (TCP mode, send-proxy-v2) with --proxy-protocol-from
# 127.0.0.1/32: a device enrolling through it from 127.0.0.2 is logged, recorded and
# rate-limited as 127.0.0.2, not as HAProxy's 127.0.0.1; a header split over two segments is
# read; LOCAL keeps the balancer's own address; a trusted peer without a header, one that stalls
# inside it, and an untrusted peer (127.0.0.3) forging one (v2 or v1) are each refused with a
# proxy_refused line and a metric; an untrusted peer without a header is served as before.
# Loopback only, HAProxy in the foreground in $T.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/service_lib.sh"
command -v haproxy >/dev/null || { echo "haproxy not installed (scripts/install-deps.sh)"; exit 77; }

HAPROXY_PID=""
proxy_cleanup() {
  if [ -n "$HAPROXY_PID" ]; then kill "$HAPROXY_PID" 2>/dev/null || true; fi
  service_cleanup
}
trap proxy_cleanup EXIT

make_openssl_ca factory
for d in dev-a dev-b dev-c dev-d dev-e; do
  make_openssl_device factory "$d"
  make_csr "$d" "$T/csr-$d"
done
init_state
start_daemon --trust "$T/factory.crt" --proxy-protocol-from 127.0.0.1/32 \
  --rate-limit-address 1/1h --rate-limit-device off --handshake-timeout 2s --metrics-listen 0
MPORT=$(sed -n 's/^<5>metrics_listening address=127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$T/daemon.log")
METRICS_URL="http://127.0.0.1:$MPORT"

HPORT=$(free_port)
cat > "$T/haproxy.cfg" <<CFG
global
  maxconn 64
defaults
  mode tcp
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend devices
  bind 127.0.0.1:$HPORT
  default_backend provisiond
backend provisiond
  server replica1 127.0.0.1:$PORT send-proxy-v2
CFG
haproxy -f "$T/haproxy.cfg" -db > "$T/haproxy.log" 2>&1 &
HAPROXY_PID=$!
for _ in $(seq 1 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$HPORT") 2>/dev/null && break
  kill -0 "$HAPROXY_PID" 2>/dev/null || { cat "$T/haproxy.log" >&2; fail "haproxy died"; finish; }
  sleep 0.1
done
# That probe was a connection through HAProxy that sent nothing: HAProxy sent its header and
# closed, which is no refusal.

# enroll_via PORT SOURCE DEVICE: curl bound to SOURCE; prints the HTTP status.
enroll_via() {
  curl -sS --interface "$2" --resolve "localhost:$1:127.0.0.1" --cacert "$CA" \
    --cert "$T/$3.crt" --key "$T/$3.key" -o "$T/resp.body" -w '%{http_code}' \
    -H 'Content-Type: application/pkcs10' --data-binary @"$T/csr-$3.b64" \
    "https://localhost:$1/.well-known/est/simpleenroll" 2>/dev/null || true
}

expect_eq "dev-a enrolls through HAProxy from 127.0.0.2" 200 "$(enroll_via "$HPORT" 127.0.0.2 dev-a)"
expect_contains "its event's peer is the device's address, from the header" "127.0.0.2:" \
  "$(sql "SELECT peer FROM enrollment_events WHERE device_id='dev-a' AND outcome='issued'")"
check "the issued line names 127.0.0.2" \
  grep -qE '^<5>issued .*device_id=dev-a .*peer=127\.0\.0\.2:' "$T/daemon.log"
expect_eq "per-address limit (1/1h) applies to 127.0.0.2: dev-b from it gets 429" 429 \
  "$(enroll_via "$HPORT" 127.0.0.2 dev-b)"
expect_eq "... not to HAProxy's address: dev-c from 127.0.0.4 through it gets 200" 200 \
  "$(enroll_via "$HPORT" 127.0.0.4 dev-c)"

# Raw clients: a header split in two segments, a forged one, a stalled one.
python3 - "$PORT" "$CA" "$T" > "$T/raw.out" <<'PY'
import socket, ssl, sys, time
port, ca, t = int(sys.argv[1]), sys.argv[2], sys.argv[3]
SIG = b"\r\n\r\n\x00\r\nQUIT\n"
def v2(src, sport):
    block = socket.inet_aton(src) + socket.inet_aton("127.0.0.1") + sport.to_bytes(2, "big") \
        + port.to_bytes(2, "big")
    return SIG + b"\x21\x11" + len(block).to_bytes(2, "big") + block
def conn(source):
    s = socket.socket()
    s.bind((source, 0))
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    return s
def closed_by_server(s):
    try:
        return s.recv(1) == b""
    except (ConnectionResetError, socket.timeout):
        return True

def enroll(s, device):  # TLS with the device's certificate on socket s; the status line
    ctx = ssl.create_default_context(cafile=ca)
    ctx.load_cert_chain(f"{t}/{device}.crt", f"{t}/{device}.key")
    c = ctx.wrap_socket(s, server_hostname="localhost")
    body = open(f"{t}/csr-{device}.b64", "rb").read()
    c.sendall(b"POST /.well-known/est/simpleenroll HTTP/1.1\r\nHost: localhost\r\n"
              b"Content-Type: application/pkcs10\r\nConnection: close\r\nContent-Length: "
              + str(len(body)).encode() + b"\r\n\r\n" + body)
    reply = b""
    while chunk := c.recv(4096):
        reply += chunk
    return reply.split(b"\r\n", 1)[0].decode()

# 1. Trusted 127.0.0.1, the header in two segments 0.3 s apart, then an enrollment over TLS.
s = conn("127.0.0.1")
h = v2("198.51.100.7", 4242)
s.sendall(h[:7]); time.sleep(0.3); s.sendall(h[7:])
print("split", enroll(s, "dev-d"))

# 1b. Trusted 127.0.0.1 sending LOCAL (a balancer's own connection): its own address stands.
s = conn("127.0.0.1")
s.sendall(SIG + b"\x20\x00\x00\x00")
print("local", enroll(s, "dev-e"))

# 2b. Untrusted 127.0.0.3 sending a v1 text header.
s = conn("127.0.0.3")
s.sendall(b"PROXY TCP4 203.0.113.9 127.0.0.1 5555 443\r\n")
print("v1", "closed" if closed_by_server(s) else "open")

# 2. Untrusted 127.0.0.3 forging a header that claims 203.0.113.9.
s = conn("127.0.0.3")
s.sendall(v2("203.0.113.9", 5555))
print("forged", "closed" if closed_by_server(s) else "open")

# 3. Trusted 127.0.0.1 stalling inside the header: closed at the handshake deadline (2 s + 25 %).
s = conn("127.0.0.1")
s.sendall(v2("198.51.100.8", 1)[:10])
t0 = time.monotonic()
print("stalled", "closed" if closed_by_server(s) else "open", "%.1f" % (time.monotonic() - t0))
PY
expect_eq "a header split over two segments is read; the enrollment behind it succeeds" \
  "split HTTP/1.1 200 OK" "$(sed -n 's/^\(split .*\)/\1/p' "$T/raw.out")"
expect_contains "its event's peer is the header's 198.51.100.7:4242" "198.51.100.7:4242" \
  "$(sql "SELECT peer FROM enrollment_events WHERE device_id='dev-d' AND outcome='issued'")"
expect_eq "a LOCAL header keeps the balancer's own address: dev-e enrolls" "local HTTP/1.1 200 OK" \
  "$(grep '^local' "$T/raw.out")"
expect_contains "... recorded as 127.0.0.1" "127.0.0.1:" \
  "$(sql "SELECT peer FROM enrollment_events WHERE device_id='dev-e' AND outcome='issued'")"
expect_eq "a v1 header from untrusted 127.0.0.3 is closed" "v1 closed" "$(grep '^v1' "$T/raw.out")"
check "... with proxy_refused reason=untrusted_v1" \
  grep -qE '^<4>proxy_refused peer=127\.0\.0\.3:[0-9]+ reason=untrusted_v1$' "$T/daemon.log"
expect_eq "a forged header from untrusted 127.0.0.3 is closed" "forged closed" \
  "$(grep '^forged' "$T/raw.out")"
check "... with a proxy_refused line naming 127.0.0.3" \
  grep -qE '^<4>proxy_refused peer=127\.0\.0\.3:[0-9]+ reason=untrusted_v2$' "$T/daemon.log"
check "the forged address is nowhere in the log" bash -c "! grep -q 203.0.113.9 '$T/daemon.log'"
read -r _ state secs <<< "$(grep '^stalled' "$T/raw.out")"
expect_eq "a trusted peer stalling inside its header is closed" closed "$state"
check "... at the handshake deadline (${secs}s)" awk -v t="$secs" 'BEGIN {exit !(t >= 1.5 && t < 6)}'
check "... with proxy_refused reason=timeout" \
  grep -qE '^<4>proxy_refused peer=127\.0\.0\.1:[0-9]+ reason=timeout$' "$T/daemon.log"

# A trusted peer speaking TLS at once (no header), and an untrusted one doing the same.
code=$(curl -sS --interface 127.0.0.1 --resolve "localhost:$PORT:127.0.0.1" --cacert "$CA" \
  --cert "$T/dev-a.crt" --key "$T/dev-a.key" -o /dev/null -w '%{http_code}' "https://localhost:$PORT/.well-known/est/cacerts" 2>/dev/null || true)
expect_eq "trusted 127.0.0.1 without a header gets no answer" 000 "$code"
check "... and a proxy_refused line (reason=no_header)" \
  grep -qE '^<4>proxy_refused peer=127\.0\.0\.1:[0-9]+ reason=no_header$' "$T/daemon.log"
code=$(curl -sS --interface 127.0.0.3 --resolve "localhost:$PORT:127.0.0.1" --cacert "$CA" \
  --cert "$T/dev-a.crt" --key "$T/dev-a.key" -o /dev/null -w '%{http_code}' \
  "https://localhost:$PORT/.well-known/est/cacerts" 2>/dev/null || true)
expect_eq "untrusted 127.0.0.3 without a header is served as before" 200 "$code"

for r in no_header untrusted_v2 untrusted_v1 timeout; do
  expect_eq "metric proxy_refused{reason=\"$r\"}" 1 \
    "$(metric "provisiond_proxy_refused_total{reason=\"$r\"}")"
done
kill "$HAPROXY_PID" 2>/dev/null || true
wait "$HAPROXY_PID" 2>/dev/null || true
HAPROXY_PID=""
finish
