#!/usr/bin/env bash
# identity_scope.sh — issue #12 finding 9: two manufacturer CAs that both issue CN=dev-0003.
# --identity-scope global (default): one device; the second bootstrap certificate is refused
# (403) and the device rate limit is one bucket per device id, not per certificate.
# per-issuer: two devices, with distinct subjects (dnQualifier), SANs and store device ids, each
# with its own rate bucket; renewal keeps the scope.
. "$(dirname "$0")/lib.sh"

make_openssl_ca mfg-a
make_openssl_ca mfg-b
# make_openssl_device names files after the id: keep each vendor's dev-0003 under its own name.
device() {  # device CA ID NAME
  make_openssl_device "$1" "$2"
  mv "$T/$2.crt" "$T/$3.crt" && mv "$T/$2.key" "$T/$3.key"
}
device mfg-a dev-0003 a3
device mfg-b dev-0003 b3
device mfg-a dev-0007 a7
device mfg-a dev-0007 a7bis  # the same device id, a second and a third bootstrap certificate
device mfg-a dev-0007 a7ter
make_csr dev-0003 "$T/csr3a"
make_csr dev-0003 "$T/csr3b"
make_csr dev-0007 "$T/csr7"
make_csr dev-0007 "$T/csr7bis"
make_csr dev-0007 "$T/csr7ter"
scope_of() {  # 16 hex digits: SHA-256 of the CA's SubjectPublicKeyInfo
  openssl x509 -in "$T/$1.crt" -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum | cut -c1-16
}
issued_cert() {  # the certificate in $T/resp.body, as text
  tr -d '\r' < "$T/resp.body" | base64 -d | openssl pkcs7 -inform DER -print_certs 2>/dev/null \
    | openssl x509 -noout -subject -ext subjectAltName -nameopt RFC2253
}

# --- global (the default) ---
init_state
start_daemon --trust "$T/mfg-a.crt" "$T/mfg-b.crt" --rate-limit-device 2/1h
expect_eq "global: mfg-a's dev-0003 enrolls" 200 "$(enroll_curl "$T/a3" "$T/csr3a.b64")"
expect_eq "global: mfg-b's dev-0003 refused" 403 "$(enroll_curl "$T/b3" "$T/csr3b.b64")"
expect_eq "global: reason" "device id already enrolled with another bootstrap certificate" \
  "$(cat "$T/resp.body")"
expect_eq "global: one certificate for dev-0003" 1 \
  "$(sql "SELECT count(*) FROM certificates WHERE device_id = 'dev-0003'")"
expect_sql_eventually "global: refusal recorded" "device_enrolled" \
  "SELECT substr(reason, 1, instr(reason, ':') - 1) FROM enrollment_events ORDER BY id DESC LIMIT 1"
# The rate limit (2/1h) follows the device id, not the certificate: the third bootstrap
# certificate of dev-0007 finds the device's bucket empty (per certificate it would be full).
expect_eq "rate: dev-0007's first bootstrap certificate enrolls" 200 "$(enroll_curl "$T/a7" "$T/csr7.b64")"
expect_eq "rate: its second one is refused by the device quota" 403 "$(enroll_curl "$T/a7bis" "$T/csr7bis.b64")"
expect_eq "rate: the third finds the device's bucket empty" 429 "$(enroll_curl "$T/a7ter" "$T/csr7ter.b64")"
stop_daemon

# --- per-issuer ---
rm -rf "$T/state" && init_state
start_daemon --trust "$T/mfg-a.crt" "$T/mfg-b.crt" --identity-scope per-issuer \
  --rate-limit-device 1/1h
sa=$(scope_of mfg-a) sb=$(scope_of mfg-b)
expect_eq "per-issuer: mfg-a's dev-0003 enrolls" 200 "$(enroll_curl "$T/a3" "$T/csr3a.b64")"
a_cert=$(issued_cert)
tr -d '\r' < "$T/resp.body" | base64 -d | openssl pkcs7 -inform DER -print_certs -out "$T/a3op.crt" 2>/dev/null
cp "$T/csr3a.key" "$T/a3op.key"
expect_eq "per-issuer: mfg-b's dev-0003 enrolls too (own rate bucket)" 200 "$(enroll_curl "$T/b3" "$T/csr3b.b64")"
b_cert=$(issued_cert)
expect_contains "mfg-a's subject carries its scope" "dnQualifier=$sa" "$a_cert"
expect_contains "mfg-b's subject carries its scope" "dnQualifier=$sb" "$b_cert"
expect_contains "mfg-a's SAN" "URI:urn:provisiond:device:$sa:dev-0003" "$a_cert"
expect_contains "mfg-b's SAN" "URI:urn:provisiond:device:$sb:dev-0003" "$b_cert"
expect_eq "two devices in the store" "$sa:dev-0003
$sb:dev-0003" "$(sql "SELECT device_id FROM certificates ORDER BY id")"
# Renewal keeps the scope (the CSR still names CN=dev-0003).
make_csr dev-0003 "$T/csr3r"
sleep 1  # the rate bucket is per device: renewals of dev-0003 share mfg-a's one (1/1h)
expect_eq "per-issuer renewal is rate limited with its device" 429 \
  "$(enroll_curl "$T/a3op" "$T/csr3r.b64" simplereenroll)"
stop_daemon
start_daemon --trust "$T/mfg-a.crt" "$T/mfg-b.crt" --identity-scope global
expect_eq "renewal after switching to global keeps the scope" 200 \
  "$(enroll_curl "$T/a3op" "$T/csr3r.b64" simplereenroll)"
expect_contains "renewed SAN" "URI:urn:provisiond:device:$sa:dev-0003" "$(issued_cert)"
expect_eq "renewal recorded under the scoped id" "reenroll|$sa:dev-0003" \
  "$(sql "SELECT kind, device_id FROM certificates ORDER BY id DESC LIMIT 1")"
finish
