#!/usr/bin/env bash
# store_damage.sh — no whole-file check at open, but damage is still found: a store with a page
# damaged where no write reads opens and lists at once; serve's background check finds it and
# stops issuance (503 + Retry-After, /healthz 503, one log line); check-store names it.
. "$(dirname "$0")/lib.sh"

make_openssl_ca factory
make_openssl_device factory dev-a
make_openssl_device factory dev-b
init_state
start_daemon --trust "$T/factory.crt"
make_csr dev-a "$T/a"
expect_eq "a healthy store issues" 200 "$(enroll_curl "$T/dev-a" "$T/a.b64")"
stop_daemon

# A table of its own, never read by provisiond, one of whose leaf pages is then overwritten.
sql "CREATE TABLE operator_notes (note BLOB);
     WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 40)
     INSERT INTO operator_notes SELECT randomblob(900) FROM n;"
sql "PRAGMA wal_checkpoint(TRUNCATE);" > /dev/null
page=$(sql "SELECT pageno FROM dbstat WHERE name = 'operator_notes' AND pagetype = 'leaf'
            ORDER BY path LIMIT 1")
size=$(sql "PRAGMA page_size")
python3 -c "
import sys
with open(sys.argv[1], 'r+b') as f:
    f.seek((int(sys.argv[2]) - 1) * int(sys.argv[3])); f.write(b'\x55' * int(sys.argv[3]))
" "$DB" "$page" "$size"

out=$("$PROVISIOND" list --device-id dev-a --state-dir "$T/state" 2>&1) || true
expect_contains "list opens the damaged store (no whole-file check)" "dev-a" "$out"
out=$("$PROVISIOND" check-store --state-dir "$T/state" 2>&1) && rc=0 || rc=$?
expect_eq "check-store fails" 1 "$rc"
expect_contains "check-store names the damage" "corrupt" "$out"
out=$("$PROVISIOND" migrate --state-dir "$T/state" 2>&1) && rc=0 || rc=$?
expect_eq "migrate checks the whole file first and refuses" 1 "$rc"
expect_contains "migrate names the damage" "corrupt" "$out"

events_before=$(sql "SELECT count(*) FROM enrollment_events")
start_daemon --trust "$T/factory.crt" --metrics-listen 0
MPORT=$(sed -n 's/^<5>metrics_listening address=127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$T/daemon.log")
for _ in $(seq 1 100); do
  grep -q 'store_check_failed' "$T/daemon.log" && break
  sleep 0.1
done
expect_contains "the background check logs it" "<3>store_check_failed_issuance_stopped" \
  "$(grep 'store_check_failed' "$T/daemon.log")"
health=$(curl -sS -w '%{http_code}' -o "$T/h" "http://127.0.0.1:$MPORT/healthz")
expect_eq "/healthz is 503" 503 "$health"
expect_contains "/healthz says why" "quick_check" "$(cat "$T/h")"
make_csr dev-b "$T/b"
status=$(curl -sS --cacert "$CA" --cert "$T/dev-b.crt" --key "$T/dev-b.key" -D "$T/b.hdr" \
  -o "$T/b.body" -w '%{http_code}' -H 'Content-Type: application/pkcs10' \
  --data-binary @"$T/b.b64" "$EST/simpleenroll")
expect_eq "issuance stopped: 503" 503 "$status"
expect_contains "with Retry-After" "Retry-After:" "$(tr -d '\r' < "$T/b.hdr")"
expect_eq "nothing issued to dev-b" 0 "$(sql "SELECT count(*) FROM certificates WHERE device_id = 'dev-b'")"
stop_daemon
expect_eq "no event written on the damaged store either (the refusal included)" "$events_before" \
  "$(sql "SELECT count(*) FROM enrollment_events")"

finish
