#!/usr/bin/env bash
# device-sim end to end: a fleet enrolls over TLS 1.3 (and 1.2), renews with its operational
# certificates, and devices with bad bootstrap certificates are refused with the right alert.
. "$(dirname "$0")/lib.sh"

init_state
"$DEVICE_SIM" factory --out "$T/fleet" --count 13 >/dev/null
for kind in expired not-yet-valid no-client-eku ca-leaf; do
  "$DEVICE_SIM" factory --out "$T/fleet" --count 1 --prefix "$kind-" --kind "$kind" >/dev/null
done
start_daemon --trust "$T/fleet/factory-ca.crt"
SIM=("$DEVICE_SIM" --fleet "$T/fleet" --server "127.0.0.1:$PORT" --ca-bundle "$CA")
goods=$(seq -f 'dev-%05g' 1 10 | paste -sd,)

out=$("${SIM[0]}" enroll "${SIM[@]:1}" --devices "$goods" --concurrency 4)
expect_contains "10 devices enroll over TLS 1.3" "enroll: ok=10 failed=0" "$out"
out=$("${SIM[0]}" enroll "${SIM[@]:1}" --devices dev-00011,dev-00012 --tls 1.2)
expect_contains "2 devices enroll over TLS 1.2" "enroll: ok=2 failed=0" "$out"
expect_eq "12 enroll rows" 12 "$(sql "SELECT count(*) FROM certificates WHERE kind='enroll'")"
check "stored operational certificates verify" \
  openssl verify -CAfile "$CA" "$T"/fleet/devices/dev-0000[1-9]/operational.crt "$T"/fleet/devices/dev-0001[0-2]/operational.crt
expect_eq "stored key is 0600" 600 "$(stat -c %a "$T/fleet/devices/dev-00001/operational.key")"

# Renewal: authenticated by the operational certificate; the row links to it.
prev_fp=$(openssl x509 -in "$T/fleet/devices/dev-00001/operational.crt" -outform DER | sha256sum | cut -d' ' -f1)
out=$("${SIM[0]}" reenroll "${SIM[@]:1}" --devices dev-00001,dev-00002,dev-00003)
expect_contains "3 devices renew" "reenroll: ok=3 failed=0" "$out"
expect_eq "renewal row links to the previous certificate" "reenroll" \
  "$(sql "SELECT kind FROM certificates WHERE auth_cert_fingerprint=X'$prev_fp'")"
new_fp=$(openssl x509 -in "$T/fleet/devices/dev-00001/operational.crt" -outform DER | sha256sum | cut -d' ' -f1)
expect_eq "renewed certificate recorded" "dev-00001|CN=dev-00001" \
  "$(sql "SELECT device_id, subject FROM certificates WHERE fingerprint_sha256=X'$new_fp'")"
# A device that was never enrolled cannot renew with its bootstrap certificate.
out=$("${SIM[0]}" reenroll "${SIM[@]:1}" --devices dev-00013 2>&1 || true)
expect_contains "renewal without an operational cert fails" "failed=1" "$out"

for v in 1.3 1.2; do
  out=$("${SIM[0]}" enroll "${SIM[@]:1}" --tls "$v" \
        --devices expired-00001,not-yet-valid-00001,no-client-eku-00001,ca-leaf-00001 2>&1 || true)
  expect_contains "bad bootstrap certs all refused (TLS $v)" "enroll: ok=0 failed=4" "$out"
  expect_contains "expired -> certificate_expired (TLS $v)" "device expired-00001: tls: " "$out"
  expect_eq "alerts (TLS $v)" "43 43 45 45" "$(printf '%s\n' "$out" | sed -n 's/^device .*fatal alert \([0-9]*\).*/\1/p' | sort | paste -sd' ')"
done
expect_eq "no certificate for bad devices" 0 \
  "$(sql "SELECT count(*) FROM certificates WHERE device_id NOT LIKE 'dev-%'")"
expect_sql_eventually "8 handshake failures recorded" 8 \
  "SELECT count(*) FROM enrollment_events WHERE outcome='handshake_failed'"
check "every handshake failure logged with its alert" \
  bash -c "[ \$(grep -c 'handshake_failed.*alert=[a-z_]*([0-9]*)' '$T/daemon.log') -eq 8 ]"

finish
