#!/usr/bin/env bash
# Channel binding (RFC 7030 §3.5 with RFC 9266 tls-exporter, TLS 1.3): a CSR's challengePassword,
# when present, must be this connection's exporter value; csrattrs asks for it only on TLS 1.3.
. "$(dirname "$0")/lib.sh"

init_state
"$DEVICE_SIM" factory --out "$T/fleet" --count 3 >/dev/null
start_daemon --trust "$T/fleet/factory-ca.crt"
SIM=(--fleet "$T/fleet" --server "127.0.0.1:$PORT" --ca-bundle "$CA")

out=$("$DEVICE_SIM" enroll "${SIM[@]}" --devices dev-00001 --channel-binding 2>&1 || true)
expect_contains "device-sim --channel-binding enrolls over TLS 1.3" "enroll: ok=1 failed=0" "$out"

dev="$T/fleet/devices/dev-00002"
printf '[req]\ndistinguished_name=dn\nattributes=attrs\nprompt=no\n[dn]\nCN=dev-00002\n[attrs]\nchallengePassword=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n' > "$T/cp.cnf"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -config "$T/cp.cnf" \
  -keyout "$T/cp.key" -outform DER -out "$T/cp.der" 2>/dev/null
base64 "$T/cp.der" > "$T/cp.b64"
AUTH=(curl -sS --cacert "$CA" --cert "$dev/bootstrap.crt" --key "$dev/bootstrap.key")
C=("${AUTH[@]}" -o "$T/body" -w '%{http_code}')
expect_eq "a challengePassword that is not this connection's binding -> 400" 400 \
  "$("${C[@]}" -H 'Content-Type: application/pkcs10' --data-binary @"$T/cp.b64" "$EST/simpleenroll")"
expect_contains "reason" "proof of possession" "$(cat "$T/body")"
expect_eq "over TLS 1.2 it cannot be checked -> 400" 400 \
  "$("${C[@]}" --tls-max 1.2 -H 'Content-Type: application/pkcs10' --data-binary @"$T/cp.b64" "$EST/simpleenroll")"
expect_eq "refusals recorded" 2 "$(sql "SELECT count(*) FROM enrollment_events WHERE reason LIKE 'channel_binding%'")"
expect_eq "nothing issued to dev-00002" 0 "$(sql "SELECT count(*) FROM certificates WHERE device_id='dev-00002'")"

attrs() { "${AUTH[@]}" "$@" "$EST/csrattrs" | tr -d '\r' | base64 -d | openssl asn1parse -inform DER; }
expect_contains "csrattrs on TLS 1.3 asks for challengePassword" "challengePassword" "$(attrs)"
check "csrattrs on TLS 1.2 does not" bash -c "! grep -q challengePassword <<< \"\$0\"" "$(attrs --tls-max 1.2)"

finish
