#!/usr/bin/env bash
# Server-side key generation (RFC 7030 §4.4) with curl and openssl only: off by default (404), a
# device gets its key and certificate as multipart/mixed over TLS 1.3 mTLS, the script splits the
# parts and checks with openssl that the PKCS#8 key is the certificate's; TLS 1.2 and a used
# bootstrap certificate are refused with a reason, each recorded in enrollment_events. Under a
# label the reply is the same and the certificate carries the label's profile; an unknown label
# and a label whose rule does not admit the CA are refused.
. "$(dirname "$0")/lib.sh"

make_openssl_ca factory
make_openssl_device factory dev-kg-1
make_openssl_device factory dev-kg-2
make_openssl_device factory dev-kg-3
init_state

# keygen_curl DEVICE CSR_B64 [curl TLS args...] -> HTTP status; body $T/kg.body, headers $T/kg.hdr
# (the path under /.well-known/est/ is $KG, default serverkeygen)
keygen_curl() {
  local dev=$1 csr=$2; shift 2
  curl -sS "$@" --cacert "$CA" --cert "$T/$dev.crt" --key "$T/$dev.key" \
    -H 'Content-Type: application/pkcs10' --data-binary @"$csr" \
    -D "$T/kg.hdr" -o "$T/kg.body" -w '%{http_code}' "$EST/${KG:-serverkeygen}"
}
# split_parts: the multipart reply in $T/kg.* -> $T/partN.hdr (headers) and $T/partN.b64 (base64)
split_parts() {
  local ctype boundary
  ctype=$(tr -d '\r' < "$T/kg.hdr" | sed -n 's/^Content-Type: //p')
  expect_contains "multipart/mixed" "multipart/mixed; boundary=" "$ctype"
  boundary=${ctype#*boundary=}
  rm -f "$T"/part[0-9].*
  # Headers up to the blank line, then the base64 lines, up to the next delimiter.
  tr -d '\r' < "$T/kg.body" | awk -v b="--$boundary" -v out="$T/part" '
    $0 == b { n++; head = 1; next }
    $0 == b "--" { done = 1; next }
    done { print "after the close delimiter: " $0 > "/dev/stderr"; exit 1 }
    head && $0 == "" { head = 0; next }
    head { print > (out n ".hdr"); next }
    { print > (out n ".b64") }'
}

# Off by default: the path is an EST operation this daemon does not offer.
start_daemon --trust "$T/factory.crt"
make_csr dev-kg-1 "$T/csr1"
expect_eq "off: 404" 404 "$(keygen_curl dev-kg-1 "$T/csr1.b64" --tlsv1.3)"
expect_eq "off: the reason" "EST operation not supported" "$(cat "$T/kg.body")"
stop_daemon

start_daemon --trust "$T/factory.crt" --serverkeygen \
  --profile "label=gw,ou=gateways,days=3650,allow=any" --profile "label=closed,ou=closed"
expect_eq "serverkeygen over TLS 1.3" 200 "$(keygen_curl dev-kg-1 "$T/csr1.b64" --tlsv1.3)"
split_parts
expect_eq "part 1 is the PKCS#8 key" "Content-Type: application/pkcs8
Content-Transfer-Encoding: base64" "$(cat "$T/part1.hdr")"
expect_eq "part 2 is the certificate" "Content-Type: application/pkcs7-mime; smime-type=certs-only
Content-Transfer-Encoding: base64" "$(cat "$T/part2.hdr")"
base64 -d < "$T/part1.b64" > "$T/kg.p8"
base64 -d < "$T/part2.b64" > "$T/kg.p7"
check "the key is unencrypted PKCS#8" openssl pkey -inform DER -in "$T/kg.p8" -out "$T/kg.key"
check "the key is PKCS#8 (PrivateKeyInfo)" grep -q "id-ecPublicKey" \
  <(openssl asn1parse -inform DER -in "$T/kg.p8")
expect_contains "the key is P-256" "prime256v1" "$(openssl pkey -in "$T/kg.key" -noout -text)"
openssl pkcs7 -inform DER -in "$T/kg.p7" -print_certs -out "$T/kg.crt"
check "the certificate verifies against the CA" openssl verify -CAfile "$CA" "$T/kg.crt"
check "the key matches the certificate's public key" \
  cmp <(openssl x509 -in "$T/kg.crt" -noout -pubkey) <(openssl pkey -in "$T/kg.key" -pubout)
if cmp -s <(openssl x509 -in "$T/kg.crt" -noout -pubkey) <(openssl pkey -in "$T/csr1.key" -pubout)
then fail "the certificate certifies the CSR's key"; else pass "the CSR's key is not certified"; fi
expect_contains "subject is the device id" "CN = dev-kg-1" "$(openssl x509 -in "$T/kg.crt" -noout -subject)"
serial=$(openssl x509 -in "$T/kg.crt" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f')
expect_eq "recorded as a server-generated key" "serverkeygen|issued|200|issued_server_key" \
  "$(sql "SELECT endpoint, outcome, http_status, reason FROM enrollment_events WHERE serial = '$serial'")"
expect_eq "certificate row" "dev-kg-1|enroll" \
  "$(sql "SELECT device_id, kind FROM certificates WHERE serial = '$serial'")"
# The key is in no file of the state directory and not in the log (hex of its DER, its base64).
key_hex=$(od -An -v -tx1 "$T/kg.p8" | tr -d ' \n')
key_b64=$(head -1 "$T/part1.b64")
sqlite3 "$DB" 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null
leak=$(grep -rlF -- "$key_b64" "$T/state" "$T/daemon.log" || true)
expect_eq "no base64 of the key on disk" "" "$leak"
dump=$(cat "$T/state"/* | od -An -v -tx1 | tr -d ' \n')
if grep -qF -- "${key_hex:60:64}" <<<"$dump"; then fail "key bytes in the state directory"
else pass "no key bytes in the state directory"; fi
expect_contains "issuance logged as serverkeygen" "kind=serverkeygen" "$(cat "$T/daemon.log")"

# TLS 1.2: refused with a reason of its own, before anything is generated or reserved.
make_csr dev-kg-2 "$T/csr2"
expect_eq "TLS 1.2: 403" 403 "$(keygen_curl dev-kg-2 "$T/csr2.b64" --tlsv1.2 --tls-max 1.2)"
expect_eq "TLS 1.2: the reason" \
  "serverkeygen requires TLS 1.3; the private key is not sent over TLS 1.2" "$(cat "$T/kg.body")"
expect_sql_eventually "TLS 1.2: recorded" \
  "serverkeygen|rejected|403|serverkeygen_needs_tls13: serverkeygen requires TLS 1.3; the private key is not sent over TLS 1.2" \
  "SELECT endpoint, outcome, http_status, reason FROM enrollment_events WHERE device_id = 'dev-kg-2'"
expect_eq "TLS 1.2: nothing issued" 0 "$(sql "SELECT count(*) FROM certificates WHERE device_id = 'dev-kg-2'")"

# A used bootstrap certificate: the same refusal as simpleenroll gives it.
make_csr dev-kg-1 "$T/csr3"
expect_eq "used bootstrap: serverkeygen 403" 403 "$(keygen_curl dev-kg-1 "$T/csr3.b64" --tlsv1.3)"
cp "$T/kg.body" "$T/kg.refusal"
expect_eq "used bootstrap: simpleenroll 403" 403 "$(enroll_curl "$T/dev-kg-1" "$T/csr3.b64")"
check "the same refusal as simpleenroll" cmp "$T/kg.refusal" "$T/resp.body"
expect_eq "the reason" "bootstrap certificate already used to obtain a certificate" \
  "$(cat "$T/kg.refusal")"
expect_sql_eventually "used bootstrap: recorded" "1" \
  "SELECT count(*) FROM enrollment_events WHERE endpoint = 'serverkeygen' AND reason LIKE 'bootstrap_exhausted:%'"
expect_eq "still one certificate for dev-kg-1" 1 \
  "$(sql "SELECT count(*) FROM certificates WHERE device_id = 'dev-kg-1'")"

# Under a label: an unknown label is refused before anything else, a label whose rule does not
# admit the CA with its reason; the label's own path gives the multipart reply, the label's profile.
make_csr dev-kg-3 "$T/csr4"
expect_eq "unknown label: 404" 404 "$(KG=nope/serverkeygen keygen_curl dev-kg-3 "$T/csr4.b64" --tlsv1.3)"
expect_eq "unknown label: the reason" "unknown EST label" "$(cat "$T/kg.body")"
expect_eq "label without allow=: 403" 403 \
  "$(KG=closed/serverkeygen keygen_curl dev-kg-3 "$T/csr4.b64" --tlsv1.3)"
expect_eq "... the reason" "this manufacturer CA may not enroll under this profile" "$(cat "$T/kg.body")"
expect_eq "nothing issued to dev-kg-3 yet" 0 \
  "$(sql "SELECT count(*) FROM certificates WHERE device_id = 'dev-kg-3'")"
expect_eq "labelled serverkeygen: 200" 200 \
  "$(KG=gw/serverkeygen keygen_curl dev-kg-3 "$T/csr4.b64" --tlsv1.3)"
split_parts
expect_contains "part 1 is the key" "application/pkcs8" "$(cat "$T/part1.hdr")"
expect_contains "part 2 is the certificate" "smime-type=certs-only" "$(cat "$T/part2.hdr")"
base64 -d < "$T/part1.b64" > "$T/gw.p8"
base64 -d < "$T/part2.b64" | openssl pkcs7 -inform DER -print_certs -out "$T/gw.crt"
check "labelled: the key is PKCS#8" openssl pkey -inform DER -in "$T/gw.p8" -out "$T/gw.key"
check "labelled: the certificate verifies" openssl verify -CAfile "$CA" "$T/gw.crt"
check "labelled: the key matches the certificate" \
  cmp <(openssl x509 -in "$T/gw.crt" -noout -pubkey) <(openssl pkey -in "$T/gw.key" -pubout)
expect_eq "labelled: the label's subject (ou=gateways)" "subject=OU=gateways,CN=dev-kg-3" \
  "$(openssl x509 -in "$T/gw.crt" -noout -subject -nameopt RFC2253)"
days=$(( ($(date -d "$(openssl x509 -in "$T/gw.crt" -noout -enddate | cut -d= -f2)" +%s) -
          $(date -d "$(openssl x509 -in "$T/gw.crt" -noout -startdate | cut -d= -f2)" +%s)) / 86400 ))
expect_eq "labelled: the label's validity (days=3650)" 3650 "$days"
serial=$(openssl x509 -in "$T/gw.crt" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f')
expect_eq "labelled: recorded under the label" "gw/serverkeygen|issued|issued_server_key" \
  "$(sql "SELECT endpoint, outcome, reason FROM enrollment_events WHERE serial = '$serial'")"
expect_eq "labelled: the certificate row has the profile" "dev-kg-3|gw" \
  "$(sql "SELECT device_id, profile FROM certificates WHERE serial = '$serial'")"

finish
