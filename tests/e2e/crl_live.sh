#!/usr/bin/env bash
# crl_live.sh — the live CRL (--crl-listen, --crl-url): the distribution point in issued
# certificates, the served CRL verified by openssl and by device-sim's relying party (mbedTLS),
# a CLI revocation served within 2 s and refused by the relying party, conditional GETs, and CRL
# numbers that keep rising across a restart.
. "$(dirname "$0")/lib.sh"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now_ms() { date +%s%3N; }

init_state
"$DEVICE_SIM" factory --out "$T/fleet" --count 3 >/dev/null
CPORT=$(free_port)
CRL_URL="http://127.0.0.1:$CPORT/crl"
SERVE_ARGS=(--trust "$T/fleet/factory-ca.crt" --crl-listen "127.0.0.1:$CPORT" --crl-url "$CRL_URL")
start_daemon "${SERVE_ARGS[@]}"
expect_contains "crl listener logged" "crl_listening address=127.0.0.1:$CPORT" "$(cat "$T/daemon.log")"
expect_contains "3 devices enroll" "ok=3 failed=0" \
  "$("$DEVICE_SIM" enroll --fleet "$T/fleet" --server "127.0.0.1:$PORT" --ca-bundle "$CA")"
op() { echo "$T/fleet/devices/$1/operational.crt"; }
expect_contains "the certificate names the CRL" "URI:$CRL_URL" \
  "$(openssl x509 -in "$(op dev-00001)" -noout -ext crlDistributionPoints)"
expect_eq "the distribution point is not critical" "" \
  "$(openssl x509 -in "$(op dev-00001)" -noout -text | grep -A1 'CRL Distribution Points: critical' || true)"

headers=$(curl -sS --max-time 5 -D - -o "$T/served.der" "$CRL_URL")
expect_contains "200" "HTTP/1.1 200 OK" "$headers"
expect_contains "DER content type" "Content-Type: application/pkix-crl" "$headers"
expect_contains "ETag" "ETag: \"crl-" "$headers"
expect_contains "Last-Modified" "Last-Modified: " "$headers"
expect_contains "max-age up to the next regeneration" "Cache-Control: public, max-age=" "$headers"
check "openssl crl -verify against ca.crt" \
  bash -c "openssl crl -inform DER -in '$T/served.der' -CAfile '$CA' -noout 2>&1 | grep -q 'verify OK'"
crl_text=$(openssl crl -inform DER -in "$T/served.der" -noout -text)
expect_eq "no critical extension in the CRL" 0 "$(grep -c 'critical' <<<"$crl_text" || true)"
check "/crl.pem is PEM" bash -c "curl -sS --max-time 5 '$CRL_URL.pem' | grep -q 'BEGIN X509 CRL'"
out=$("$DEVICE_SIM" relying-party --fleet "$T/fleet" --ca-bundle "$CA" 2>&1) && rc=0 || rc=$?
expect_eq "relying party (mbedTLS) accepts all before revocation" 0 "$rc"
expect_contains "its counts" "checked=3 accepted=3 revoked=0" "$out"

# -- revoke from another process while the daemon runs -----------------------------------------
serial=$(openssl x509 -in "$(op dev-00001)" -noout -serial | cut -d= -f2)
t0=$(now_ms)
"$PROVISIOND" revoke --state-dir "$T/state" --device-id dev-00001 --reason keyCompromise >/dev/null
t_listed=""
for _ in $(seq 1 100); do
  curl -sS --max-time 2 -o "$T/now.der" "$CRL_URL" 2>/dev/null || true
  if openssl crl -inform DER -in "$T/now.der" -noout -text 2>/dev/null | grep -q "Serial Number: $serial"; then
    t_listed=$(now_ms); break
  fi
  sleep 0.05
done
check "the served CRL lists the revoked serial" test -n "$t_listed"
listed_ms=$(( ${t_listed:-999999} - t0 ))
check "within 2 s of the CLI returning ($listed_ms ms)" test "$listed_ms" -lt 2000
out=$("$DEVICE_SIM" relying-party --fleet "$T/fleet" --ca-bundle "$CA" 2>&1) && rc=0 || rc=$?
t_refused=$(now_ms)
expect_eq "relying party exits 1 when it refuses" 1 "$rc"
expect_contains "refuses exactly the revoked device" "checked=3 accepted=2 revoked=1" "$out"
expect_contains "names it" "refused: dev-00001 revoked" "$out"
echo "measured: revoke -> CRL served ${listed_ms} ms; revoke -> relying party refuses $(( t_refused - t0 )) ms"
openssl crl -inform DER -in "$T/now.der" -out "$T/now.pem"
check "openssl verify -crl_check refuses the revoked certificate" \
  bash -c "! openssl verify -crl_check -CAfile '$CA' -CRLfile '$T/now.pem' '$(op dev-00001)' >/dev/null 2>&1"
check "and accepts another" openssl verify -crl_check -CAfile "$CA" -CRLfile "$T/now.pem" "$(op dev-00002)"

# -- conditional requests, HEAD, refusals ---------------------------------------------------------
etag=$(curl -sS --max-time 5 -D - -o /dev/null "$CRL_URL" | sed -n 's/^ETag: \(.*\)\r$/\1/p')
lm=$(curl -sS --max-time 5 -D - -o /dev/null "$CRL_URL" | sed -n 's/^Last-Modified: \(.*\)\r$/\1/p')
code() { curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "$@"; }
expect_eq "If-None-Match with the ETag -> 304" 304 "$(code -H "If-None-Match: $etag" "$CRL_URL")"
expect_eq "If-None-Match in a list -> 304" 304 "$(code -H "If-None-Match: \"x\", $etag" "$CRL_URL")"
expect_eq "another ETag -> 200" 200 "$(code -H 'If-None-Match: "crl-0"' "$CRL_URL")"
expect_eq "If-Modified-Since Last-Modified -> 304" 304 "$(code -H "If-Modified-Since: $lm" "$CRL_URL")"
expect_eq "If-Modified-Since long ago -> 200" 200 \
  "$(code -H 'If-Modified-Since: Mon, 01 Jan 2001 00:00:00 GMT' "$CRL_URL")"
head=$(curl -sS --max-time 5 -I "$CRL_URL")
expect_contains "HEAD: 200 with the length" "Content-Length: $(stat -c %s "$T/now.der")" "$head"
expect_eq "HEAD: no body" 0 "$(curl -sS --max-time 5 -I -o /dev/null -w '%{size_download}' "$CRL_URL")"
expect_eq "POST -> 405" 405 "$(code -X POST -d x "$CRL_URL")"
expect_eq "other path -> 404" 404 "$(code "http://127.0.0.1:$CPORT/crls")"
expect_eq "path traversal -> 404" 404 "$(code --path-as-is "http://127.0.0.1:$CPORT/../crl")"

# -- CRL numbers keep rising across a restart --------------------------------------------------
before=$(openssl crl -inform DER -in "$T/now.der" -noout -crlnumber | cut -d= -f2)
stop_daemon
start_daemon "${SERVE_ARGS[@]}"
after=""
for _ in $(seq 1 50); do
  after=$(curl -sS --max-time 2 "$CRL_URL" 2>/dev/null | openssl crl -inform DER -noout -crlnumber 2>/dev/null | cut -d= -f2) || true
  [ -n "$after" ] && break
  sleep 0.1
done
# openssl prints crlNumber=0x..: bash arithmetic reads the 0x prefix.
check "CRL number after restart ($((${after:-0}))) > before ($((before)))" \
  test "$((${after:-0}))" -gt "$((before))"
finish
