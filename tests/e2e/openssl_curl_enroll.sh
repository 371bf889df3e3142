#!/usr/bin/env bash
# An independent client: openssl makes the factory PKI and the CSR, curl speaks EST, openssl
# checks the PKCS#7 reply, sqlite3 shows the row. Nothing of ours on the client side.
. "$(dirname "$0")/lib.sh"

make_openssl_ca factory
make_openssl_device factory dev-curl-1
init_state
start_daemon --trust "$T/factory.crt"

# cacerts: base64 certs-only PKCS#7 holding our CA.
status=$(curl -sS --cacert "$CA" --cert "$T/dev-curl-1.crt" --key "$T/dev-curl-1.key" \
  -D "$T/cacerts.hdr" -o "$T/cacerts.b64" -w '%{http_code}' "$EST/cacerts")
expect_eq "cacerts status" 200 "$status"
expect_contains "cacerts content type" "Content-Type: application/pkcs7-mime" "$(cat "$T/cacerts.hdr")"
expect_contains "cacerts transfer encoding" "Content-Transfer-Encoding: base64" "$(cat "$T/cacerts.hdr")"
tr -d '\r' < "$T/cacerts.b64" | base64 -d > "$T/cacerts.p7"
openssl pkcs7 -inform DER -in "$T/cacerts.p7" -print_certs -out "$T/cacerts.pem"
check "cacerts holds the CA" cmp <(openssl x509 -in "$T/cacerts.pem" -outform DER) \
  <(openssl x509 -in "$CA" -outform DER)

# csrattrs: P-256 and ecdsa-with-SHA256.
curl -sS --cacert "$CA" --cert "$T/dev-curl-1.crt" --key "$T/dev-curl-1.key" "$EST/csrattrs" \
  | tr -d '\r' | base64 -d > "$T/csrattrs.der"
attrs=$(openssl asn1parse -inform DER -in "$T/csrattrs.der")
expect_contains "csrattrs names P-256" prime256v1 "$attrs"
expect_contains "csrattrs names ecdsa-with-SHA256" ecdsa-with-SHA256 "$attrs"

# simpleenroll with an openssl CSR; Expect: 100-continue exercised on purpose.
make_csr dev-curl-1 "$T/op"
status=$(curl -sS --cacert "$CA" --cert "$T/dev-curl-1.crt" --key "$T/dev-curl-1.key" \
  -H 'Content-Type: application/pkcs10' -H 'Expect: 100-continue' --data-binary @"$T/op.b64" \
  -D "$T/enroll.hdr" -o "$T/enroll.b64" -w '%{http_code}' "$EST/simpleenroll")
expect_eq "simpleenroll status" 200 "$status"
hdr=$(tr -d '\r' < "$T/enroll.hdr")
expect_contains "enroll content type exact" \
  "Content-Type: application/pkcs7-mime; smime-type=certs-only" "$hdr"
expect_contains "Content-Length present" "Content-Length: " "$hdr"
# RFC 8951 / libest: base64 in 64-column lines ending CRLF.
check "reply wrapped at 64 columns with CRLF" \
  awk 'BEGIN{RS="\n"} { if (substr($0, length($0)) != "\r") bad=1; if (length($0) > 65) bad=1 } END { exit bad }' \
  "$T/enroll.b64"
tr -d '\r' < "$T/enroll.b64" | base64 -d > "$T/enroll.p7"
openssl pkcs7 -inform DER -in "$T/enroll.p7" -print_certs -out "$T/op.crt"
check "issued certificate verifies against the CA" openssl verify -CAfile "$CA" -purpose sslclient "$T/op.crt"
check "issued certificate holds the CSR's key" cmp <(openssl x509 -in "$T/op.crt" -noout -pubkey) \
  <(openssl pkey -in "$T/op.key" -pubout)
text=$(openssl x509 -in "$T/op.crt" -noout -text)
expect_contains "subject CN is the device id" "Subject: CN = dev-curl-1" "$text"
expect_contains "SAN carries the device id" "URI:urn:provisiond:device:dev-curl-1" "$text"
expect_contains "not a CA" "CA:FALSE" "$text"
expect_contains "EKU clientAuth" "TLS Web Client Authentication" "$text"

# The row is there, visible to an operator with the sqlite3 CLI.
serial=$(openssl x509 -in "$T/op.crt" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f')
expect_eq "serial is 16 bytes" 32 "${#serial}"
expect_eq "row recorded" "dev-curl-1|enroll" "$(sql "SELECT device_id, kind FROM certificates WHERE serial = '$serial'")"
fp=$(openssl x509 -in "$T/op.crt" -outform DER | sha256sum | cut -d' ' -f1)
expect_eq "stored DER is what was sent" "$fp" "$(sql "SELECT lower(hex(fingerprint_sha256)) FROM certificates WHERE serial = '$serial'")"
boot_fp=$(openssl x509 -in "$T/dev-curl-1.crt" -outform DER | sha256sum | cut -d' ' -f1)
expect_eq "bootstrap cert recorded" "$boot_fp" "$(sql "SELECT lower(hex(auth_cert_fingerprint)) FROM certificates WHERE serial = '$serial'")"
expect_eq "event recorded" "simpleenroll|issued|200|$serial" \
  "$(sql "SELECT endpoint, outcome, http_status, serial FROM enrollment_events WHERE endpoint <> 'state'")"
expect_eq "its intent is in the audit chain" "intent|dev-curl-1" \
  "$(sql "SELECT outcome, device_id FROM enrollment_events WHERE endpoint = 'state' AND reason LIKE 'serial=\"$serial\"%'")"
expect_contains "issuance logged" "issued serial=$serial device_id=dev-curl-1" "$(cat "$T/daemon.log")"

# Base64 with spaces, tabs and CRLF is tolerated. Sending the same CSR again is a retry (the
# device lost the reply): the certificate already issued comes back, and nothing new is made.
{ base64 -w 40 "$T/op.der" | sed 's/^/ \t/; s/$/\r/'; } > "$T/op.messy"
expect_eq "messy base64 accepted" 200 "$(enroll_curl "$T/dev-curl-1" "$T/op.messy")"
check "the retry gets the same certificate" cmp "$T/enroll.b64" "$T/resp.body"
expect_eq "still one row" 1 "$(sql 'SELECT count(*) FROM certificates')"

finish
