#!/usr/bin/env bash
# profile_renewal.sh — issue #12 finding 8: renewal keeps the profile a certificate was issued
# under. A gw certificate renews under /gw/ only; under the default profile or another label it
# gets 403 (the label is stored in certificates.profile, schema version 4).
. "$(dirname "$0")/lib.sh"

init_state
make_openssl_ca mfg-a
make_openssl_device mfg-a a-1
start_daemon --trust "$T/mfg-a.crt" \
  --profile "label=gw,ou=gateways,days=3650,allow=$T/mfg-a.crt" \
  --profile "label=open,ou=open,allow=any"

make_csr a-1 "$T/a1"
expect_eq "enrolled under gw" 200 "$(enroll_curl "$T/a-1" "$T/a1.b64" gw/simpleenroll)"
tr -d '\r' < "$T/resp.body" | base64 -d | openssl pkcs7 -inform DER -print_certs -out "$T/op.crt"
cp "$T/a1.key" "$T/op.key"
expect_eq "recorded with its profile" "gw" "$(sql "SELECT profile FROM certificates")"

make_csr a-1 "$T/r1"
expect_eq "gw certificate renewing under the default profile refused" 403 \
  "$(enroll_curl "$T/op" "$T/r1.b64" simplereenroll)"
expect_eq "reason" "renewal must use the profile the certificate was issued under" \
  "$(cat "$T/resp.body")"
expect_eq "... and under another label" 403 "$(enroll_curl "$T/op" "$T/r1.b64" open/simplereenroll)"
expect_eq "... under its own label it renews" 200 "$(enroll_curl "$T/op" "$T/r1.b64" gw/simplereenroll)"
expect_eq "the renewal keeps the profile" "reenroll|gw" \
  "$(sql "SELECT kind, profile FROM certificates ORDER BY id DESC LIMIT 1")"
finish
