#!/usr/bin/env bash
# Interrupted issuances are reported (issue #13): a pending intent left between Reserve and
# Complete (here the certificate insert fails) is counted in one start-up line and listed by
# `provisiond list --pending` (plain and --json); a clean store logs no such line.
. "$(dirname "$0")/lib.sh"

make_openssl_ca factory
init_state
start_daemon --trust "$T/factory.crt"
expect_eq "no pending intents: no start-up line" 0 "$(grep -c 'pending_intents' "$T/daemon.log" || true)"

# Two enrollments interrupted between their two commits: the intent commits, the certificate does not.
sql "CREATE TRIGGER refuse_all BEFORE INSERT ON certificates BEGIN SELECT RAISE(ABORT, 'injected fault'); END;"
for dev in dev-p1 dev-p2; do
  make_openssl_device factory "$dev"
  make_csr "$dev" "$T/$dev-csr"
  expect_eq "$dev: failed Complete -> 500" 500 "$(enroll_curl "$T/$dev" "$T/$dev-csr.b64")"
done
sql "DROP TRIGGER refuse_all;"
expect_eq "two pending intents in the store" 2 "$(sql "SELECT count(*) FROM issuance_intents WHERE status = 'pending'")"
serial1=$(sql "SELECT serial FROM issuance_intents WHERE device_id = 'dev-p1'")
serial2=$(sql "SELECT serial FROM issuance_intents WHERE device_id = 'dev-p2'")

stop_daemon
start_daemon --trust "$T/factory.crt"
line=$(grep 'pending_intents' "$T/daemon.log" || true)
expect_eq "one start-up line" 1 "$(printf '%s\n' "$line" | grep -c 'pending_intents')"
expect_contains "at warning priority, with the count" "<4>pending_intents count=2 revoked=0 " "$line"
expect_contains "says what to do" "list --pending" "$line"

plain=$("$PROVISIOND" list --state-dir "$T/state" --pending)
expect_eq "plain: a header and two rows" 3 "$(printf '%s\n' "$plain" | wc -l)"
expect_contains "plain: dev-p1's intent" "$serial1  dev-p1" "$plain"
expect_contains "plain: dev-p2's intent, not revoked" "$serial2  dev-p2" "$plain"
check "plain: kind and not revoked" bash -c "printf '%s\n' \"\$1\" | grep -E '^$serial1 +dev-p1 +enroll +[0-9T:-]+Z +-\$'" _ "$plain"

# A revoked intent shows its revocation; one the device completes is no longer listed.
"$PROVISIOND" revoke --state-dir "$T/state" --serial "$serial2" --reason keyCompromise >/dev/null
expect_eq "dev-p1's same-key retry completes its intent" 200 "$(enroll_curl "$T/dev-p1" "$T/dev-p1-csr.b64")"
expect_eq "with the reserved serial" "$serial1" "$(sql "SELECT serial FROM certificates WHERE device_id = 'dev-p1'")"
json=$("$PROVISIOND" list --state-dir "$T/state" --pending --json)
check "json: parses, exactly dev-p2's revoked intent" python3 -c '
import json, sys
rows = json.loads(sys.argv[1])
assert len(rows) == 1, rows
r = rows[0]
assert r["serial"] == sys.argv[2] and r["device_id"] == "dev-p2" and r["kind"] == "enroll", r
assert r["created_at"].endswith("Z") and r["revoked_at"].endswith("Z"), r
assert r["revocation_reason"] == 1, r
' "$json" "$serial2"
check "plain: the revocation shown" bash -c "printf '%s\n' \"\$1\" | grep -qE '^$serial2 +dev-p2 +enroll +[0-9T:-]+Z +[0-9T:-]+Z keyCompromise\$'" _ "$("$PROVISIOND" list --state-dir "$T/state" --pending)"

stop_daemon
start_daemon --trust "$T/factory.crt"
expect_contains "restart counts the one left, revoked" "<4>pending_intents count=1 revoked=1 " "$(grep 'pending_intents' "$T/daemon.log" || true)"
check "--pending with --blocked is refused" bash -c "! '$PROVISIOND' list --state-dir '$T/state' --pending --blocked 2>/dev/null"

finish
