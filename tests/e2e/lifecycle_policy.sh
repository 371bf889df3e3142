#!/usr/bin/env bash
# Who may get what, how often: one certificate per bootstrap certificate with idempotent retries,
# the race between simultaneous requests, key reuse, re-enrollment rules and rate limits.
. "$(dirname "$0")/lib.sh"

make_openssl_ca factory
for d in dev-p1 dev-p2 dev-race dev-rate; do make_openssl_device factory "$d"; done
init_state
start_daemon --trust "$T/factory.crt" --renew-before 30d --rate-limit-device 200/1h

# -- one-time bootstrap, safe retries --------------------------------------------------------
make_csr dev-p1 "$T/k1"
expect_eq "first enrollment" 200 "$(enroll_curl "$T/dev-p1" "$T/k1.b64")"
cp "$T/resp.body" "$T/first.b64"
expect_eq "retry with the same key" 200 "$(enroll_curl "$T/dev-p1" "$T/k1.b64")"
check "retry returns the very same certificate" cmp "$T/first.b64" "$T/resp.body"
expect_eq "no second row for the retry" 1 "$(sql "SELECT count(*) FROM certificates WHERE device_id='dev-p1'")"
expect_eq "retry recorded as such" "already_issued|200" \
  "$(sql "SELECT outcome, http_status FROM enrollment_events WHERE device_id='dev-p1' AND outcome='already_issued'")"
make_csr dev-p1 "$T/k2"
expect_eq "second key from the same bootstrap cert -> 403" 403 "$(enroll_curl "$T/dev-p1" "$T/k2.b64")"
expect_contains "reason" "already used" "$(cat "$T/resp.body")"
expect_eq "refusal recorded" 1 \
  "$(sql "SELECT count(*) FROM enrollment_events WHERE device_id='dev-p1' AND reason LIKE 'bootstrap_exhausted%'")"
expect_contains "logged as a possible clone" "possible clone" "$(grep enroll_refused "$T/daemon.log")"

# -- the race: 100 simultaneous enrollments, one bootstrap cert, 100 keys -> exactly one issued
for i in $(seq 1 100); do make_csr dev-race "$T/race$i"; done
seq 1 100 | xargs -P 50 -I{} curl -sS --cacert "$CA" --cert "$T/dev-race.crt" --key "$T/dev-race.key" \
  -o /dev/null -w '%{http_code}\n' -H 'Content-Type: application/pkcs10' \
  --data-binary @"$T/race{}.b64" "$EST/simpleenroll" > "$T/race.codes"
expect_eq "exactly one 200 among 100 racing requests" 1 "$(grep -c '^200$' "$T/race.codes")"
expect_eq "the others got 403" 99 "$(grep -c '^403$' "$T/race.codes")"
expect_eq "exactly one row" 1 "$(sql "SELECT count(*) FROM certificates WHERE device_id='dev-race'")"

# -- key reuse --------------------------------------------------------------------------------
openssl req -new -key "$T/dev-p2.key" -subj /CN=dev-p2 -outform DER -out "$T/same.der" 2>/dev/null
base64 "$T/same.der" > "$T/same.b64"
expect_eq "CSR with the bootstrap cert's own key -> 403" 403 "$(enroll_curl "$T/dev-p2" "$T/same.b64")"
expect_contains "key reuse reason" "key reuse" "$(cat "$T/resp.body")"
openssl req -new -key "$T/k1.key" -subj /CN=dev-p2 -outform DER -out "$T/stolen.der" 2>/dev/null
base64 "$T/stolen.der" > "$T/stolen.b64"
expect_eq "CSR with a key certified for another device -> 403" 403 "$(enroll_curl "$T/dev-p2" "$T/stolen.b64")"
expect_eq "key reuse events" 2 "$(sql "SELECT count(*) FROM enrollment_events WHERE reason LIKE 'key_reuse%'")"
expect_eq "dev-p2 has nothing" 0 "$(sql "SELECT count(*) FROM certificates WHERE device_id='dev-p2'")"

# -- re-enrollment rules (daemon runs with --renew-before 30d, validity 90d) ------------------
tr -d '\r' < "$T/first.b64" | base64 -d | openssl pkcs7 -inform DER -print_certs -out "$T/op1.crt"
cp "$T/k1.key" "$T/op1.key"
make_csr dev-p1 "$T/r1"
expect_eq "renewal 90 days before expiry -> 403" 403 "$(enroll_curl "$T/op1" "$T/r1.b64" simplereenroll)"
expect_contains "says when renewal opens" "renewal opens 20" "$(cat "$T/resp.body")"
stop_daemon
start_daemon --trust "$T/factory.crt" --rate-limit-device 3/1h
expect_eq "renewal with the current key -> 403" 403 "$(enroll_curl "$T/op1" "$T/k1.b64" simplereenroll)"
expect_contains "new key required" "new key" "$(cat "$T/resp.body")"
expect_eq "renewal with a new key" 200 "$(enroll_curl "$T/op1" "$T/r1.b64" simplereenroll)"
tr -d '\r' < "$T/resp.body" | base64 -d | openssl pkcs7 -inform DER -print_certs -out "$T/op2.crt"
op1_fp=$(openssl x509 -in "$T/op1.crt" -outform DER | sha256sum | cut -d' ' -f1)
op1_serial=$(openssl x509 -in "$T/op1.crt" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f')
op2_serial=$(openssl x509 -in "$T/op2.crt" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f')
expect_eq "renewed row links to the previous certificate" "reenroll|$op1_serial|$op1_fp" \
  "$(sql "SELECT kind, auth_cert_serial, lower(hex(auth_cert_fingerprint)) FROM certificates WHERE serial='$op2_serial'")"
expect_eq "same subject" "$(openssl x509 -in "$T/op1.crt" -noout -subject)" \
  "$(openssl x509 -in "$T/op2.crt" -noout -subject)"

# -- rate limit per client certificate (3/1h on this daemon; the op1 cert used 2 already) -----
make_csr dev-rate "$T/rl"
for i in 1 2 3; do enroll_curl "$T/dev-rate" "$T/rl.b64" > /dev/null; done
status=$(curl -sS --cacert "$CA" --cert "$T/dev-rate.crt" --key "$T/dev-rate.key" -D "$T/rl.hdr" \
  -o /dev/null -w '%{http_code}' -H 'Content-Type: application/pkcs10' --data-binary @"$T/rl.b64" "$EST/simpleenroll")
expect_eq "fourth request within the hour -> 429" 429 "$status"
expect_contains "with Retry-After" "Retry-After:" "$(cat "$T/rl.hdr")"
expect_eq "rate limit recorded" 1 "$(sql "SELECT count(*) FROM enrollment_events WHERE http_status=429")"

finish
