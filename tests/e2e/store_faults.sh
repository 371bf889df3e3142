#!/usr/bin/env bash
# The database under faults: a corrupt file (found by check-store and serve's background check)
# or a read-only file system -> one clear line; a full file system -> 503 + Retry-After, nothing
# signed, the daemon stays up, and it recovers when space returns. Needs root for the small tmpfs
# (skips, exit 77, otherwise).
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root to mount a small tmpfs"; exit 77; }
make_openssl_ca factory
for d in dev-f1 dev-f2 dev-f3; do make_openssl_device factory "$d"; done

# -- a corrupt database: no whole-file check at open (issue #18), so serve starts; its background
# check finds the damage (here in a table provisiond never reads) and stops issuance; check-store
# refuses with one line ------------------------------------------------------------------------
"$PROVISIOND" init --state-dir "$T/corrupt" >/dev/null
sqlite3 "$T/corrupt/provisiond.db" "CREATE TABLE filler(x); INSERT INTO filler VALUES (randomblob(200000));"
# The filler's root page overwritten, wherever it is and whatever the page size.
page=$(sqlite3 "$T/corrupt/provisiond.db" "PRAGMA page_size")
root=$(sqlite3 "$T/corrupt/provisiond.db" "SELECT rootpage FROM sqlite_master WHERE name = 'filler'")
python3 -c "import sys; n=int(sys.argv[2]); f=open(sys.argv[1],'r+b'); f.seek((int(sys.argv[3])-1)*n); f.write(b'\xde\xad'*(n//2))" \
  "$T/corrupt/provisiond.db" "$page" "$root"
rc=0
out=$("$PROVISIOND" check-store --state-dir "$T/corrupt" 2>&1) || rc=$?
check "corrupt database: check-store fails" test "$rc" -ne 0
expect_eq "with one line" 1 "$(printf '%s\n' "$out" | grep -c .)"
expect_contains "that says why" "corrupt" "$(printf '%s' "$out" | tr 'A-Z' 'a-z')"
out=$(timeout 5 "$PROVISIOND" serve --state-dir "$T/corrupt" --listen 127.0.0.1:0 --trust "$T/factory.crt" 2>&1) || true
expect_contains "serve's background check stops issuance" "<3>store_check_failed_issuance_stopped" "$out"

# -- a small file system of our own -------------------------------------------------------------
mnt="$T/mnt"
mkdir -p "$mnt"
mount -t tmpfs -o size=3m tmpfs "$mnt"
trap 'umount -l "$mnt" 2>/dev/null; cleanup' EXIT
"$PROVISIOND" init --state-dir "$mnt/state" >/dev/null
ln -s "$mnt/state" "$T/state"
DB="$T/state/provisiond.db"
CA="$T/state/ca.crt"

# Read-only: refuse to start, one line.
mount -o remount,ro "$mnt"
rc=0
out=$(timeout 20 "$PROVISIOND" serve --state-dir "$T/state" --listen 127.0.0.1:0 --trust "$T/factory.crt" 2>&1) || rc=$?
mount -o remount,rw "$mnt"
check "read-only database: refuses to start" test "$rc" -ne 0
expect_eq "with one line" 1 "$(printf '%s\n' "$out" | grep -c .)"

# Full: fill every byte, then enroll.
start_daemon --trust "$T/factory.crt"
make_csr dev-f1 "$T/c1"
expect_eq "enrolls while there is room" 200 "$(enroll_curl "$T/dev-f1" "$T/c1.b64")"
dd if=/dev/zero of="$mnt/filler" bs=64k 2>/dev/null || true
make_csr dev-f2 "$T/c2"
status=$(curl -sS --cacert "$CA" --cert "$T/dev-f2.crt" --key "$T/dev-f2.key" -D "$T/full.hdr" \
  -o "$T/full.body" -w '%{http_code}' -H 'Content-Type: application/pkcs10' \
  --data-binary @"$T/c2.b64" "$EST/simpleenroll")
expect_eq "full file system -> 503" 503 "$status"
expect_contains "with Retry-After" "Retry-After:" "$(tr -d '\r' < "$T/full.hdr")"
check "no certificate in the body" bash -c "! grep -q MII '$T/full.body'"
check "the daemon stays up" kill -0 "$DAEMON_PID"
rm -f "$mnt/filler"
expect_eq "recovers when space returns" 200 "$(enroll_curl "$T/dev-f2" "$T/c2.b64")"
expect_eq "nothing was signed for the refused attempt: two certificates, no pending intent" "2|0" \
  "$(sql "SELECT (SELECT count(*) FROM certificates), (SELECT count(*) FROM issuance_intents WHERE status='pending')")"
expect_eq "integrity_check" ok "$(sql 'PRAGMA integrity_check')"
finish
