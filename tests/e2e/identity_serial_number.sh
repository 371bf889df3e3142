#!/usr/bin/env bash
# --identity serialNumber: the device id comes from the bootstrap certificate's serialNumber
# attribute; a certificate without one names no device (403), and a CSR naming another id is refused.
. "$(dirname "$0")/lib.sh"

make_openssl_ca factory
printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n' > "$T/leaf.ext"
mk() {  # mk NAME SUBJECT
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "$2" \
    -keyout "$T/$1.key" -out "$T/$1.req" 2>/dev/null
  openssl x509 -req -in "$T/$1.req" -CA "$T/factory.crt" -CAkey "$T/factory.key" -CAcreateserial \
    -days 30 -extfile "$T/leaf.ext" -out "$T/$1.crt" 2>/dev/null
}
mk with-sn "/CN=Sensor/serialNumber=SN-0001"
mk without-sn "/CN=Sensor"
init_state
start_daemon --trust "$T/factory.crt" --identity serialNumber

openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/serialNumber=SN-0002" \
  -keyout "$T/other.key" -outform DER -out "$T/other.der" 2>/dev/null
base64 "$T/other.der" > "$T/other.b64"
expect_eq "CSR naming another serialNumber -> 403" 403 "$(enroll_curl "$T/with-sn" "$T/other.b64")"

make_csr Sensor "$T/csr"   # a CN only: the serialNumber rule does not look at it
expect_eq "enroll by serialNumber" 200 "$(enroll_curl "$T/with-sn" "$T/csr.b64")"
tr -d '\r' < "$T/resp.body" | base64 -d | openssl pkcs7 -inform DER -print_certs -out "$T/op.crt"
expect_contains "issued CN is the serialNumber" "CN = SN-0001" "$(openssl x509 -in "$T/op.crt" -noout -subject)"
expect_eq "row keyed by it" 1 "$(sql "SELECT count(*) FROM certificates WHERE device_id='SN-0001'")"

make_csr Sensor "$T/csr2"
expect_eq "certificate without serialNumber -> 403" 403 "$(enroll_curl "$T/without-sn" "$T/csr2.b64")"
expect_contains "reason" "no acceptable device identity" "$(cat "$T/resp.body")"
expect_eq "recorded" 1 "$(sql "SELECT count(*) FROM enrollment_events WHERE reason LIKE 'no_device_id%'")"

finish
