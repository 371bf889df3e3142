#!/usr/bin/env bash
# Bad CSRs and wrong certificates for the endpoint: each gets its status and one-line reason,
# is logged and recorded, and nothing is issued.
. "$(dirname "$0")/lib.sh"

make_openssl_ca factory
make_openssl_device factory dev-a
init_state
start_daemon --trust "$T/factory.crt"

head -c 300 /dev/urandom | base64 > "$T/garbage.b64"
expect_eq "malformed CSR -> 400" 400 "$(enroll_curl "$T/dev-a" "$T/garbage.b64")"
expect_eq "malformed CSR reason" "malformed CSR" "$(cat "$T/resp.body")"

printf 'this is not base64 !!!\n' > "$T/notb64"
expect_eq "invalid base64 -> 400" 400 "$(enroll_curl "$T/dev-a" "$T/notb64")"

make_csr dev-a "$T/rsa" "rsa:2048"
expect_eq "RSA CSR -> 400" 400 "$(enroll_curl "$T/dev-a" "$T/rsa.b64")"
expect_contains "RSA named in the reason" "RSA" "$(cat "$T/resp.body")"

make_csr dev-a "$T/p384" "ec -pkeyopt ec_paramgen_curve:P-384"
expect_eq "P-384 CSR -> 400" 400 "$(enroll_curl "$T/dev-a" "$T/p384.b64")"
expect_contains "P-384 named in the reason" "P-384" "$(cat "$T/resp.body")"

# Proof of possession: flip a byte inside the signature.
make_csr dev-a "$T/tampered"
python3 - "$T/tampered.der" <<'PY'
import sys
p = sys.argv[1]; b = bytearray(open(p, 'rb').read()); b[-5] ^= 0x01; open(p, 'wb').write(b)
PY
base64 "$T/tampered.der" > "$T/tampered.b64"
expect_eq "bad CSR signature -> 400" 400 "$(enroll_curl "$T/dev-a" "$T/tampered.b64")"
expect_contains "proof of possession reason" "proof of possession" "$(cat "$T/resp.body")"

make_csr dev-b "$T/other"
expect_eq "CSR naming another device -> 403" 403 "$(enroll_curl "$T/dev-a" "$T/other.b64")"
expect_contains "mismatch reason" "different device" "$(cat "$T/resp.body")"

make_csr dev-a "$T/good"
expect_eq "bootstrap cert to simplereenroll -> 403" 403 \
  "$(enroll_curl "$T/dev-a" "$T/good.b64" simplereenroll)"
expect_eq "nothing issued so far" 0 "$(sql 'SELECT count(*) FROM certificates')"

# Enroll properly, then present the operational certificate to simpleenroll.
expect_eq "good enrollment" 200 "$(enroll_curl "$T/dev-a" "$T/good.b64")"
tr -d '\r' < "$T/resp.body" | base64 -d | openssl pkcs7 -inform DER -print_certs -out "$T/op.crt"
cp "$T/good.key" "$T/op.key"
make_csr dev-a "$T/again"
expect_eq "operational cert to simpleenroll -> 403" 403 "$(enroll_curl "$T/op" "$T/again.b64")"
expect_contains "reason says use simplereenroll" "simplereenroll" "$(cat "$T/resp.body")"

expect_eq "one certificate issued in all" 1 "$(sql 'SELECT count(*) FROM certificates')"
expect_eq "every refusal recorded" "400|5
403|3" "$(sql "SELECT http_status, count(*) FROM enrollment_events WHERE outcome='rejected' GROUP BY http_status ORDER BY http_status")"
expect_eq "refusals logged at warning" 8 "$(grep -c '^<4>enroll_refused' "$T/daemon.log")"

finish
