#!/usr/bin/env bash
# A resumed intent is checked against what the daemon would build now (issue #12, finding 4)
# including the parts that come from the identity scope and the profile label:
#   - under --identity-scope per-issuer a legitimately interrupted issuance resumes (200): the
#     rebuild carries the same dnQualifier and scoped SAN as the intent's TBS;
#   - an intent whose profile label was changed in the database (a TBS that is right for the
#     default profile, recorded as 'gw') is not signed: 500 intent_mismatch, nothing issued.
. "$(dirname "$0")/lib.sh"

make_openssl_ca factory
make_openssl_device factory dev-a
make_openssl_device factory dev-b
init_state
make_csr dev-a "$T/csr-a"
make_csr dev-b "$T/csr-b"

start_daemon --trust "$T/factory.crt" --identity-scope per-issuer \
  --profile "label=gw,ou=gateways,days=365,allow=$T/factory.crt"

# Interrupt dev-a's issuance between its two commits (the certificate row is refused once).
sql "CREATE TRIGGER refuse_all BEFORE INSERT ON certificates BEGIN SELECT RAISE(ABORT, 'injected fault'); END;"
expect_eq "dev-a: interrupted issuance -> 500" 500 "$(enroll_curl "$T/dev-a" "$T/csr-a.b64")"
pending=$(sql "SELECT serial FROM issuance_intents WHERE device_id LIKE '%:dev-a' AND status='pending'")
check "dev-a's intent is pending under its scoped id" test -n "$pending"
expect_eq "dev-b: interrupted issuance -> 500" 500 "$(enroll_curl "$T/dev-b" "$T/csr-b.b64")"
pending_b=$(sql "SELECT serial FROM issuance_intents WHERE device_id LIKE '%:dev-b' AND status='pending'")
check "dev-b's intent is pending" test -n "$pending_b"
sql "DROP TRIGGER refuse_all;"

expect_eq "per-issuer: the retry resumes dev-a's intent -> 200" 200 \
  "$(enroll_curl "$T/dev-a" "$T/csr-a.b64")"
expect_eq "with the intent's serial and its scoped id" 1 \
  "$(sql "SELECT count(*) FROM certificates WHERE serial='$pending' AND device_id LIKE '%:dev-a'")"

# dev-b's intent relabelled in the database: its TBS is still right for the default profile.
sql "UPDATE issuance_intents SET profile='gw' WHERE serial='$pending_b'"
expect_eq "relabelled intent -> 500" 500 "$(enroll_curl "$T/dev-b" "$T/csr-b.b64")"
expect_contains "fixed reason" "pending issuance record does not match this enrollment" \
  "$(cat "$T/resp.body")"
expect_eq "nothing signed for it" 0 "$(sql "SELECT count(*) FROM certificates WHERE serial='$pending_b'")"
line=$(grep '^<3>enroll_refused' "$T/daemon.log" | grep "$pending_b" || true)
expect_contains "the error line names the profile" "profile: 'gw', want ''" "$line"

finish
