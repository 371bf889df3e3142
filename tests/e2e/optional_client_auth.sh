#!/usr/bin/env bash
# --client-auth optional (RFC 7030 §4.1.1): cacerts and csrattrs without a certificate,
# enrollment without one -> 401, and a certificate that is presented must still verify.
. "$(dirname "$0")/lib.sh"

make_openssl_ca factory
make_openssl_ca rogue
make_openssl_device factory dev-o
make_openssl_device rogue dev-r
init_state
start_daemon --trust "$T/factory.crt" --client-auth optional

expect_eq "cacerts without a certificate" 200 \
  "$(curl -sS --cacert "$CA" -o /dev/null -w '%{http_code}' "$EST/cacerts")"
expect_eq "csrattrs without a certificate" 200 \
  "$(curl -sS --cacert "$CA" -o /dev/null -w '%{http_code}' "$EST/csrattrs")"
make_csr dev-o "$T/csr"
expect_eq "enroll without a certificate -> 401" 401 \
  "$(curl -sS --cacert "$CA" -o "$T/body" -w '%{http_code}' -H 'Content-Type: application/pkcs10' \
     --data-binary @"$T/csr.b64" "$EST/simpleenroll")"
for v in tls1_3 tls1_2; do
  expect_eq "untrusted certificate still refused ($v)" "fatal unknown_ca" \
    "$(s_client_alert -"$v" -cert "$T/dev-r.crt" -key "$T/dev-r.key")"
done
expect_eq "enroll with a good certificate" 200 "$(enroll_curl "$T/dev-o" "$T/csr.b64")"
expect_eq "one certificate" 1 "$(sql 'SELECT count(*) FROM certificates')"
expect_eq "401 recorded" 1 "$(sql "SELECT count(*) FROM enrollment_events WHERE http_status=401")"

finish
