#!/usr/bin/env bash
# No certificate leaves before its row commits: when the store refuses the insert (a trigger put
# in by an operator's sqlite3, the daemon running), the device gets an error and no certificate.
. "$(dirname "$0")/lib.sh"

make_openssl_ca factory
make_openssl_device factory dev-s
init_state
start_daemon --trust "$T/factory.crt"

sql "CREATE TRIGGER refuse_all BEFORE INSERT ON certificates BEGIN SELECT RAISE(ABORT, 'injected fault'); END;"
make_csr dev-s "$T/csr"
status=$(enroll_curl "$T/dev-s" "$T/csr.b64")
expect_eq "failed commit -> 500" 500 "$status"
check "no certificate in the body" bash -c "! grep -q 'MII' '$T/resp.body'"
expect_eq "no row" 0 "$(sql 'SELECT count(*) FROM certificates')"
expect_contains "logged as an error with the store's detail" "injected fault" "$(grep '^<3>enroll_refused' "$T/daemon.log")"

sql "DROP TRIGGER refuse_all;"
expect_eq "recovers once the store accepts writes" 200 "$(enroll_curl "$T/dev-s" "$T/csr.b64")"
expect_eq "one row now" 1 "$(sql 'SELECT count(*) FROM certificates')"

# A store that stays locked past busy_timeout (5 s): 503 with Retry-After, nothing issued.
make_openssl_device factory dev-busy
make_csr dev-busy "$T/busy"
{ echo "BEGIN IMMEDIATE;"; sleep 8; echo "COMMIT;"; } | sqlite3 "$DB" &
locker=$!
sleep 0.5
status=$(curl -sS --cacert "$CA" --cert "$T/dev-busy.crt" --key "$T/dev-busy.key" -D "$T/busy.hdr" \
  -o "$T/busy.body" -w '%{http_code}' -H 'Content-Type: application/pkcs10' \
  --data-binary @"$T/busy.b64" "$EST/simpleenroll")
expect_eq "locked store -> 503" 503 "$status"
# --retry-after 30, jittered over [15, 45] (daemon/retry_after.h).
after=$(tr -d '\r' < "$T/busy.hdr" | sed -n 's/^Retry-After: //p')
expect_eq "with Retry-After in [15, 45]" ok "$( ((after >= 15 && after <= 45)) && echo ok || echo "$after")"
wait "$locker"
expect_eq "nothing issued to dev-busy" 0 "$(sql "SELECT count(*) FROM certificates WHERE device_id='dev-busy'")"
expect_eq "after the lock, it enrolls" 200 "$(enroll_curl "$T/dev-busy" "$T/busy.b64")"

finish
