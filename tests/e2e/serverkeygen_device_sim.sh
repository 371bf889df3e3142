#!/usr/bin/env bash
# device-sim serverkeygen end to end: devices enroll with a key the server makes; each stores the
# key 0600 with its certificate and checked that they match; the key then works for renewal. TLS
# 1.2 and a second serverkeygen with a used bootstrap certificate are refused.
. "$(dirname "$0")/lib.sh"

init_state
"$DEVICE_SIM" factory --out "$T/fleet" --count 6 >/dev/null
start_daemon --trust "$T/fleet/factory-ca.crt" --serverkeygen
SIM=("$DEVICE_SIM" --fleet "$T/fleet" --server "127.0.0.1:$PORT" --ca-bundle "$CA")

out=$("${SIM[0]}" serverkeygen "${SIM[@]:1}" --devices dev-00001,dev-00002,dev-00003 --concurrency 3)
expect_contains "3 devices get a server-generated key" "serverkeygen: ok=3 failed=0" "$out"
dir="$T/fleet/devices/dev-00001"
expect_eq "stored key is 0600" 600 "$(stat -c %a "$dir/operational.key")"
check "stored certificate verifies" openssl verify -CAfile "$CA" "$dir/operational.crt"
check "stored key is the certificate's" \
  cmp <(openssl x509 -in "$dir/operational.crt" -noout -pubkey) <(openssl pkey -in "$dir/operational.key" -pubout)
expect_eq "3 events say the key was server-generated" 3 \
  "$(sql "SELECT count(*) FROM enrollment_events WHERE endpoint = 'serverkeygen' AND reason = 'issued_server_key'")"

# The server-made key is the device's from now on: it renews with it (TLS client key).
out=$("${SIM[0]}" reenroll "${SIM[@]:1}" --devices dev-00001)
expect_contains "renewal with the server-generated key" "reenroll: ok=1 failed=0" "$out"

out=$("${SIM[0]}" serverkeygen "${SIM[@]:1}" --devices dev-00002 2>&1 || true)
expect_contains "a used bootstrap certificate is refused" "serverkeygen: ok=0 failed=1" "$out"
expect_contains "... with the simpleenroll reason" \
  "bootstrap certificate already used to obtain a certificate" "$out"

out=$("${SIM[0]}" serverkeygen "${SIM[@]:1}" --devices dev-00004 --tls 1.2 2>&1 || true)
expect_contains "TLS 1.2 refused" "serverkeygen requires TLS 1.3" "$out"
check "nothing stored for the refused device" test ! -e "$T/fleet/devices/dev-00004/operational.key"
expect_eq "nothing issued to it" 0 "$(sql "SELECT count(*) FROM certificates WHERE device_id = 'dev-00004'")"

finish
