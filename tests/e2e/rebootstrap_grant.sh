#!/usr/bin/env bash
# Factory reset (issue #19 part 1): a device whose bootstrap certificate is used up enrolls once
# more with a new key under `provisiond grant-rebootstrap`, granted online beside the serving
# daemon; refused before the grant, once spent and once expired, each with its own reason; a race
# under one grant gets exactly one certificate; --revoke-previous revokes the old certificate (CRL);
# a key certified for the device before is refused (rebootstrap_key_not_new) and the grant stays open.
. "$(dirname "$0")/lib.sh"

init_state
"$DEVICE_SIM" factory --out "$T/fleet" --count 4 >/dev/null
start_daemon --trust "$T/fleet/factory-ca.crt" --rate-limit-device 200/1h
SIM=("$DEVICE_SIM" enroll --fleet "$T/fleet" --server "127.0.0.1:$PORT" --ca-bundle "$CA")
P=("$PROVISIOND")
ADMIN=(--state-dir "$T/state")
# A factory reset: the device keeps its bootstrap certificate, loses its operational key;
# device-sim makes a fresh P-256 key for every enrollment it starts.
reset_device() { rm -f "$T/fleet/devices/$1/operational.crt" "$T/fleet/devices/$1/operational.key"; }
serial_of() { openssl x509 -in "$1" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f'; }

out=$("${SIM[@]}" --devices dev-00001,dev-00002,dev-00003,dev-00004)
expect_contains "four devices enroll" "enroll: ok=4 failed=0" "$out"
old1=$(serial_of "$T/fleet/devices/dev-00001/operational.crt")

# -- before any grant: the used bootstrap certificate and a new key are refused ------------------
reset_device dev-00001
out=$("${SIM[@]}" --devices dev-00001 2>&1 || true)
expect_contains "reset device without a grant -> 403" "http 403" "$out"
expect_contains "... bootstrap already used" "already used" "$out"

# -- the grant, recorded online while the daemon serves; --revoke-previous -----------------------
out=$("${P[@]}" grant-rebootstrap "${ADMIN[@]}" --device-id dev-00001 --expires 1h \
      --revoke-previous --reason 'RMA 7731: "factory reset" \ line')
expect_contains "grant printed" 'device_id="dev-00001"' "$out"
expect_contains "... reason escaped" 'reason="RMA 7731: \"factory reset\" \\ line"' "$out"
rc=0; err=$("${P[@]}" grant-rebootstrap "${ADMIN[@]}" --device-id dev-00001 --reason again 2>&1) || rc=$?
expect_eq "a second open grant is refused" 1 "$rc"
expect_contains "... with one line" "already has an open re-bootstrap grant" "$err"
rc=0; err=$("${P[@]}" grant-rebootstrap "${ADMIN[@]}" --device-id dev-00002 --expires 90d \
            --reason long 2>&1) || rc=$?
expect_eq "a grant longer than 30d is refused" 1 "$rc"
expect_contains "... with one line" "between 1s and 30d" "$err"
rc=0; err=$("${P[@]}" grant-rebootstrap "${ADMIN[@]}" --device-id dev-00002 2>&1) || rc=$?
[ "$rc" -ne 0 ] && pass "--reason is required (exit $rc)" || fail "--reason is required"
expect_contains "... says so" "--reason" "$err"
expect_eq "the grant is in the audit chain, reason escaped" 1 \
  "$(sql "SELECT count(*) FROM enrollment_events WHERE endpoint='state' AND outcome='rebootstrap_granted' AND device_id='dev-00001' AND reason LIKE '%reason=\"RMA 7731: \\\"factory reset\\\" \\\\ line\"%'")"
expect_eq "list --grants: open" "open" \
  "$("${P[@]}" list --grants --json "${ADMIN[@]}" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["status"])')"

# -- the grant is spent once: one new certificate, the old one revoked in the same transaction ----
out=$("${SIM[@]}" --devices dev-00001)
expect_contains "reset device under the grant -> 200" "enroll: ok=1 failed=0" "$out"
new1=$(serial_of "$T/fleet/devices/dev-00001/operational.crt")
expect_eq "the new certificate is active" "" \
  "$(sql "SELECT ifnull(revoked_at,'') FROM certificates WHERE serial='$new1'")"
expect_eq "the old certificate is revoked as superseded" "4" \
  "$(sql "SELECT revocation_reason FROM certificates WHERE serial='$old1'")"
expect_eq "... at the new certificate's issuance" \
  "$(sql "SELECT issued_at FROM certificates WHERE serial='$new1'")" \
  "$(sql "SELECT revoked_at FROM certificates WHERE serial='$old1'")"
check "provisiond crl" "${P[@]}" crl "${ADMIN[@]}" --out "$T/crl.der"
crl=$(openssl crl -inform DER -in "$T/crl.der" -noout -text | tr 'A-F' 'a-f' | tr -d ' :\n')
expect_contains "the old serial is on the CRL" "$old1" "$crl"
[[ "$crl" == *"$new1"* ]] && fail "the new serial is on the CRL" || pass "the new serial is not on the CRL"
expect_eq "list --grants: spent, on the new serial" "spent $new1" \
  "$("${P[@]}" list --grants --json "${ADMIN[@]}" | python3 -c 'import json,sys; g=json.load(sys.stdin)[0]; print(g["status"], g["spent_serial"])')"

reset_device dev-00001
out=$("${SIM[@]}" --devices dev-00001 2>&1 || true)
expect_contains "a second reset under the spent grant -> 403" "http 403" "$out"
expect_contains "... with its own reason" "grant for this device was already used" "$out"
expect_sql_eventually "spent refusal recorded" 1 \
  "SELECT count(*) FROM enrollment_events WHERE device_id='dev-00001' AND reason LIKE 'rebootstrap_grant_spent%'"

# -- expired: a grant of 1 s, used 2 s later ----------------------------------------------------
reset_device dev-00002
"${P[@]}" grant-rebootstrap "${ADMIN[@]}" --device-id dev-00002 --expires 1s --reason short >/dev/null
sleep 2.2
out=$("${SIM[@]}" --devices dev-00002 2>&1 || true)
expect_contains "expired grant -> 403" "http 403" "$out"
expect_contains "... with its own reason" "grant for this device has expired" "$out"
expect_sql_eventually "expired refusal recorded" 1 \
  "SELECT count(*) FROM enrollment_events WHERE device_id='dev-00002' AND reason LIKE 'rebootstrap_grant_expired%'"
expect_contains "list --grants shows it expired" "expired" "$("${P[@]}" list --grants "${ADMIN[@]}")"

# -- a key certified for the device before is not new: 403, the grant stays open ---------------
D4="$T/fleet/devices/dev-00004"
cp "$D4/operational.key" "$T/old4.key"
# Its certificate revoked: while it is active, the same key is a retry that gets it again (200).
"${P[@]}" revoke "${ADMIN[@]}" --serial "$(serial_of "$D4/operational.crt")" >/dev/null
reset_device dev-00004
"${P[@]}" grant-rebootstrap "${ADMIN[@]}" --device-id dev-00004 --reason 'old key' >/dev/null
openssl req -new -key "$T/old4.key" -subj /CN=dev-00004 -outform DER | base64 > "$T/old4.b64"
expect_eq "the old key under a grant -> 403" 403 "$(enroll_curl "$D4/bootstrap" "$T/old4.b64")"
expect_eq "... with its reason" "re-bootstrap requires a key never certified for this device" \
  "$(cat "$T/resp.body")"
expect_sql_eventually "... recorded as rebootstrap_key_not_new" \
  "simpleenroll|rejected|403|rebootstrap_key_not_new" \
  "SELECT endpoint, outcome, http_status, substr(reason, 1, instr(reason, ':') - 1) FROM enrollment_events WHERE device_id='dev-00004' ORDER BY id DESC LIMIT 1"
expect_eq "... nothing issued" 1 "$(sql "SELECT count(*) FROM certificates WHERE device_id='dev-00004'")"
make_csr dev-00004 "$T/new4"
expect_eq "the grant stayed open: a new key -> 200" 200 "$(enroll_curl "$D4/bootstrap" "$T/new4.b64")"

# -- a race: 30 new keys at once under one grant -> exactly one 200 ------------------------------
"${P[@]}" grant-rebootstrap "${ADMIN[@]}" --device-id dev-00003 --reason race >/dev/null
BOOT="$T/fleet/devices/dev-00003/bootstrap"
for i in $(seq 1 30); do make_csr dev-00003 "$T/race$i"; done
seq 1 30 | xargs -P 30 -I{} curl -sS --cacert "$CA" --cert "$BOOT.crt" --key "$BOOT.key" \
  -o "$T/race{}.body" -w '%{http_code}\n' -H 'Content-Type: application/pkcs10' \
  --data-binary @"$T/race{}.b64" "$EST/simpleenroll" > "$T/race.codes"
expect_eq "exactly one 200 among 30 racing enrollments" 1 "$(grep -c '^200$' "$T/race.codes")"
expect_eq "the others got 403" 29 "$(grep -c '^403$' "$T/race.codes")"
expect_eq "... each with the spent reason" 29 "$(grep -l 'grant for this device was already used' "$T"/race*.body | wc -l)"
expect_eq "dev-00003 has exactly two certificates" 2 \
  "$(sql "SELECT count(*) FROM certificates WHERE device_id='dev-00003'")"
expect_eq "without --revoke-previous the old one stays active" 0 \
  "$(sql "SELECT count(*) FROM certificates WHERE device_id='dev-00003' AND revoked_at IS NOT NULL")"

check "audit verify" "${P[@]}" audit verify "${ADMIN[@]}"
stop_daemon
finish
