#!/usr/bin/env bash
# profile_authorization.sh — issue #12 finding 8: a labelled profile is only for the manufacturer
# CAs its rule allows (--profile ...,allow=CA-FILE|any; no allow= = nobody), the default profile
# stays open to every trusted CA, and renewal cannot move a certificate into another profile.
. "$(dirname "$0")/lib.sh"

init_state
make_openssl_ca mfg-a
make_openssl_ca mfg-b
for id in a-1 a-2 b-1 b-2 b-3; do make_openssl_device "mfg-${id%%-*}" "$id"; done
start_daemon --trust "$T/mfg-a.crt" "$T/mfg-b.crt" \
  --profile "label=gw,ou=gateways,days=3650,allow=$T/mfg-a.crt" \
  --profile "label=open,ou=open,allow=any" --profile "label=closed,ou=closed"

reason() { cat "$T/resp.body"; }
subject_of_response() {
  tr -d '\r' < "$T/resp.body" | base64 -d | openssl pkcs7 -inform DER -print_certs 2>/dev/null \
    | openssl x509 -noout -subject -nameopt RFC2253
}

# A bootstrap certificate from a CA the label does not allow: 403 with the fixed reason.
make_csr b-1 "$T/b1"
expect_eq "mfg-b bootstrap on /gw/simpleenroll refused" 403 "$(enroll_curl "$T/b-1" "$T/b1.b64" gw/simpleenroll)"
expect_eq "reason" "this manufacturer CA may not enroll under this profile" "$(reason)"
expect_eq "nothing issued" 0 "$(sql "SELECT count(*) FROM certificates")"
expect_sql_eventually "refusal recorded" "gw/simpleenroll|profile_not_allowed" \
  "SELECT endpoint, substr(reason, 1, instr(reason, ':') - 1) FROM enrollment_events ORDER BY id DESC LIMIT 1"

# The allowed CA gets the profile.
make_csr a-1 "$T/a1"
expect_eq "mfg-a bootstrap on /gw/simpleenroll issued" 200 "$(enroll_curl "$T/a-1" "$T/a1.b64" gw/simpleenroll)"
expect_eq "gw profile applied" "subject=OU=gateways,CN=a-1" "$(subject_of_response)"

# A label without allow= refuses everyone; allow=any admits every trusted CA.
make_csr b-2 "$T/b2"
expect_eq "no rule: /closed/simpleenroll refused" 403 "$(enroll_curl "$T/b-2" "$T/b2.b64" closed/simpleenroll)"
expect_eq "allow=any: /open/simpleenroll issued" 200 "$(enroll_curl "$T/b-2" "$T/b2.b64" open/simpleenroll)"

# The default profile stays open to every trusted manufacturer CA.
expect_eq "mfg-b on the default profile issued" 200 "$(enroll_curl "$T/b-1" "$T/b1.b64")"
tr -d '\r' < "$T/resp.body" | base64 -d | openssl pkcs7 -inform DER -print_certs -out "$T/b1-op.crt" 2>/dev/null
cp "$T/b1.key" "$T/b1-op.key"

# Renewal into another profile: a default-profile certificate may not renew under gw (90 days
# would become 3650 with OU=gateways).
make_csr b-1 "$T/b1r"
expect_eq "default certificate renewing under /gw refused" 403 \
  "$(enroll_curl "$T/b1-op" "$T/b1r.b64" gw/simplereenroll)"
expect_eq "renewal reason" "renewal must use the profile the certificate was issued under" "$(reason)"
expect_eq "... and under its own profile it renews" 200 \
  "$(enroll_curl "$T/b1-op" "$T/b1r.b64" simplereenroll)"

# Configuration errors name the value.
out=$("$PROVISIOND" check-config --state-dir "$T/state" --trust "$T/mfg-a.crt" \
      --profile "label=x,allow=$T/missing.crt" 2>&1 || true)
expect_contains "missing allow file named" "allow=$T/missing.crt" "$out"
finish
