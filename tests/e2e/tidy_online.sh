#!/usr/bin/env bash
# tidy_online.sh — `provisiond tidy` on a SQLite store beside a serving daemon: device-sim enrolls
# while tidy removes certificates the test made expired (their notAfter set in the past) and cuts
# the audit chain; afterwards every enrollment succeeded, the active and the revoked-but-unexpired
# certificates are still there, a removed device's bootstrap certificate cannot enroll again,
# `audit verify` and `audit verify-archive` pass, and an edited archive or a date inside the
# safety margin is refused.
. "$(dirname "$0")/lib.sh"
trap cleanup EXIT
init_state
S=(--state-dir "$T/state")
"$DEVICE_SIM" factory --out "$T/fleet" --count 40 >/dev/null
start_daemon --trust "$T/fleet/factory-ca.crt"
SIM=("$DEVICE_SIM" --fleet "$T/fleet" --server "127.0.0.1:$PORT" --ca-bundle "$CA")

out=$("${SIM[0]}" enroll "${SIM[@]:1}" --devices "$(seq -f 'dev-%05g' 1 10 | paste -sd,)")
expect_contains "10 devices enroll" "enroll: ok=10 failed=0" "$out"
# Devices 1-6 expired long ago; 5 was revoked too, 7 is revoked and unexpired, 8-10 are active.
sql "UPDATE certificates SET not_after = '2020-01-01T00:00:00Z' WHERE device_id IN
     ('dev-00001','dev-00002','dev-00003','dev-00004','dev-00005','dev-00006')"
"$PROVISIOND" revoke "${S[@]}" --device-id dev-00005 >/dev/null
"$PROVISIOND" revoke "${S[@]}" --device-id dev-00007 >/dev/null
"$PROVISIOND" crl "${S[@]}" --out "$T/crl.der" >/dev/null  # a CRL without dev-00005: removable
check "audit verify before tidy" "$PROVISIOND" audit verify "${S[@]}"

# -- refused dates: one line, exit 1, nothing changed -----------------------------------------------
for bad in "$(date -u -d '+1 day' +%F)" "$(date -u -d '-10 minutes' +%FT%TZ)" 2026-02-30 yesterday; do
  out=$("$PROVISIOND" tidy "${S[@]}" --expired-before "$bad" 2>&1) && fail "tidy accepted $bad"
  expect_eq "one line for --expired-before $bad" 1 "$(printf '%s\n' "$out" | wc -l)"
done
out=$("$PROVISIOND" tidy "${S[@]}" --expired-before 2025-01-01 --events-before "$(date -u -d '+1 hour' +%FT%TZ)" 2>&1) \
  && fail "events in the future accepted"
expect_contains "--events-before in the future" "is in the future" "$out"
out=$("$PROVISIOND" tidy "${S[@]}" --expired-before 2025-01-01 --dry-run)
expect_contains "dry run counts" "would remove 6 certificates, 0 pending intents" "$out"
expect_eq "dry run removed nothing" 10 "$(sql "SELECT count(*) FROM certificates")"

# -- tidy while 30 more devices enroll ---------------------------------------------------------------
"${SIM[0]}" enroll "${SIM[@]:1}" --devices "$(seq -f 'dev-%05g' 11 40 | paste -sd,)" \
  --concurrency 2 > "$T/sim.out" 2>&1 &
SIM_PID=$!
sleep 1.1  # event times are whole seconds: the rows so far are then all before "now"
out=$("$PROVISIOND" tidy "${S[@]}" --expired-before "$(date -u -d '-2 hours' +%FT%TZ)" \
      --events-before "$(date -u +%FT%TZ)" --archive "$T/archive" 2>&1)
expect_contains "tidy removed the 6 expired certificates" "removed 6 certificates" "$out"
wait "$SIM_PID"
expect_contains "every enrollment during tidy succeeded" "enroll: ok=30 failed=0" "$(cat "$T/sim.out")"
expect_eq "kept: active and revoked-unexpired" "dev-00007 dev-00008 dev-00009 dev-00010" \
  "$(sql "SELECT device_id FROM certificates WHERE device_id <= 'dev-00010' ORDER BY device_id" | paste -sd' ')"
expect_eq "every new device's certificate" 30 "$(sql "SELECT count(*) FROM certificates WHERE device_id > 'dev-00010'")"
expect_eq "tombstones for the removed enrollments" 6 "$(sql "SELECT count(*) FROM enroll_tombstones")"
check "the chain was cut" test "$(sql "SELECT first_id FROM audit_chain_base")" -gt 1
expect_eq "one tidy event" 1 "$(sql "SELECT count(*) FROM enrollment_events WHERE outcome = 'tidy'")"
out=$("$PROVISIOND" audit verify "${S[@]}" 2>&1)
expect_contains "audit verify after tidy" "audit chain ok" "$out"
out=$("$PROVISIOND" audit verify-archive "${S[@]}" "$T/archive" 2>&1)
expect_contains "the archive verifies" "archive ok:" "$out"
expect_contains "the archive holds the 6 certificates" "6 certificates" "$out"
# A removed device's bootstrap certificate (new key) is refused as before the removal.
rm -f "$T/fleet/devices/dev-00002/operational."*
out=$("${SIM[0]}" enroll "${SIM[@]:1}" --devices dev-00002 2>&1 || true)
expect_contains "a removed enrollment's bootstrap cannot enroll again" "failed=1" "$out"
check "audit verify after more enrollments" "$PROVISIOND" audit verify "${S[@]}"

# -- tampering -------------------------------------------------------------------------------------
python3 - "$T/archive" "$T/edited" <<'PY'
import sys
lines = open(sys.argv[1]).read().split("\n")
i = next(n for n, l in enumerate(lines) if l.startswith("event "))
f = lines[i].split(" ")
f[12] = "ZWRpdGVk"  # the reason, base64 "edited"
lines[i] = " ".join(f)
open(sys.argv[2], "w").write("\n".join(lines))
PY
out=$("$PROVISIOND" audit verify-archive "${S[@]}" "$T/edited" 2>&1) && fail "edited archive passed"
expect_contains "an edited archive row fails" "archive BROKEN" "$out"
# A certificate line is covered by the archive's signature only (no chain hash).
python3 - "$T/archive" "$T/edited2" <<'PY'
import sys
lines = open(sys.argv[1]).read().split("\n")
i = next(n for n, l in enumerate(lines) if l.startswith("certificate "))
f = lines[i].split(" ")
f[2] = "ZGV2LTk5OTk5"  # the device id, base64 "dev-99999"
lines[i] = " ".join(f)
open(sys.argv[2], "w").write("\n".join(lines))
PY
out=$("$PROVISIOND" audit verify-archive "${S[@]}" "$T/edited2" 2>&1) && fail "edited certificate line passed"
expect_contains "an edited certificate line fails the signature" "signature does not verify" "$out"
first=$(sql "SELECT first_id FROM audit_chain_base")
sql "DELETE FROM enrollment_events WHERE id = $first"
out=$("$PROVISIOND" audit verify "${S[@]}" 2>&1) && fail "a row deleted outside tidy passed"
expect_contains "a row deleted outside tidy fails" "BROKEN" "$out"
stop_daemon
finish
