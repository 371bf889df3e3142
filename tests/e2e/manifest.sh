#!/usr/bin/env bash
# Factory manifests end to end (#19 part 2): `manifest import` (CSV and JSON, online beside a
# serving daemon; bad lines and conflicts refused with their line numbers, nothing imported; the
# same file again a no-op), `serve --require-manifest` (a listed device enrolls; one in no manifest
# gets 403 not_in_manifest, one listed under another id 403 manifest_mismatch, both recorded in
# enrollment_events), `manifest report` (table and JSON) and the import's event in the audit chain.
. "$(dirname "$0")/lib.sh"

init_state
"$DEVICE_SIM" factory --out "$T/fleet" --count 6 >/dev/null
fp() { openssl x509 -in "$T/fleet/devices/$1/bootstrap.crt" -outform DER | sha256sum | cut -d' ' -f1; }
upper() { tr '[:lower:]' '[:upper:]'; }
M=("$PROVISIOND" manifest)
S=(--state-dir "$T/state")

# line-a: dev-00001..3 as CSV, one fingerprint in uppercase. line-b (JSON): dev-00004, and
# dev-00005's certificate listed under another device id.
{ echo "device_id,bootstrap_sha256"
  echo "dev-00001,$(fp dev-00001 | upper)"
  echo "dev-00002,$(fp dev-00002)"
  echo "dev-00003,$(fp dev-00003)"; } >"$T/line-a.csv"
printf '[\n {"device_id": "dev-00004", "bootstrap_sha256": "%s"},\n {"device_id": "dev-99999", "bootstrap_sha256": "%s"}\n]\n' \
  "$(fp dev-00004)" "$(fp dev-00005)" >"$T/line-b.json"

# -- bad input: every bad line on stderr with its number, exit 1, nothing imported -------------
{ echo "device_id,bootstrap_sha256"
  echo "dev-00001,$(fp dev-00001)"
  echo "dev-00002,abc"
  echo "dev-00001,$(fp dev-00003)"; } >"$T/bad.csv"
rc=0; "${M[@]}" import --batch bad "${S[@]}" "$T/bad.csv" 2>"$T/bad.err" || rc=$?
expect_eq "a file with bad lines is refused" 1 "$rc"
expect_contains "... naming line 3" "$T/bad.csv:3: bootstrap_sha256 is not 64 hex digits" "$(cat "$T/bad.err")"
expect_contains "... and line 4" "$T/bad.csv:4: device_id repeats line 2" "$(cat "$T/bad.err")"
expect_eq "... nothing imported" 0 "$(sql "SELECT count(*) FROM manifest_devices")"
rc=0; "${M[@]}" import --batch 'no/slash' "${S[@]}" "$T/line-a.csv" 2>/dev/null || rc=$?
expect_eq "a bad batch name is refused" 1 "$rc"

# -- online: import while the daemon serves --------------------------------------------------------
start_daemon --trust "$T/fleet/factory-ca.crt" --require-manifest
out=$("${M[@]}" import --batch line-a "${S[@]}" "$T/line-a.csv")
expect_contains "line-a imported" "imported batch line-a: 3 device(s)" "$out"
out=$("${M[@]}" import --batch line-b "${S[@]}" "$T/line-b.json")
expect_contains "line-b (JSON) imported" "imported batch line-b: 2 device(s)" "$out"
out=$("${M[@]}" import --batch line-a "${S[@]}" "$T/line-a.csv")
expect_contains "the same file again is a no-op" "batch line-a unchanged" "$out"
{ echo "device_id,bootstrap_sha256"; echo "dev-00006,$(fp dev-00006)"; echo "dev-00003,$(fp dev-00004)"; } \
  >"$T/conflict.csv"
rc=0; "${M[@]}" import --batch line-c "${S[@]}" "$T/conflict.csv" 2>"$T/conflict.err" || rc=$?
expect_eq "a conflicting file is refused" 1 "$rc"
expect_contains "... listing its conflicting line" \
  "$T/conflict.csv:3: device_id=dev-00003 bootstrap_sha256=$(fp dev-00004): device id already in batch \"line-a\"" \
  "$(cat "$T/conflict.err")"
expect_eq "... nothing of it imported (dev-00006 stays unknown)" 0 \
  "$(sql "SELECT count(*) FROM manifest_devices WHERE device_id='dev-00006'")"
expect_eq "the import is in the audit chain: batch, file hash, row count" 1 \
  "$(sql "SELECT count(*) FROM enrollment_events WHERE outcome='manifest_imported' AND reason LIKE 'batch=\"line-a\" file_sha256=\"$(sha256sum "$T/line-a.csv" | cut -d' ' -f1)\" rows=\"3\" %'")"

# -- --require-manifest -------------------------------------------------------------------------
SIM=("$DEVICE_SIM" enroll --fleet "$T/fleet" --server "127.0.0.1:$PORT" --ca-bundle "$CA")
out=$("${SIM[@]}" --devices dev-00001,dev-00002,dev-00004 2>&1 || true)
expect_contains "listed devices enroll" "enroll: ok=3 failed=0" "$out"
out=$("${SIM[@]}" --devices dev-00006 2>&1 || true)
expect_contains "a device in no manifest is refused" "enroll: ok=0 failed=1" "$out"
expect_contains "... with 403" "403" "$out"
out=$("${SIM[@]}" --devices dev-00005 2>&1 || true)
expect_contains "a device listed under another id is refused" "enroll: ok=0 failed=1" "$out"
expect_sql_eventually "not_in_manifest recorded (403) in enrollment_events" \
  "403|not_in_manifest: bootstrap certificate is in no factory manifest" \
  "SELECT http_status, reason FROM enrollment_events WHERE device_id='dev-00006'"
expect_sql_eventually "manifest_mismatch recorded (403)" "403|manifest_mismatch" \
  "SELECT http_status, substr(reason, 1, 17) FROM enrollment_events WHERE device_id='dev-00005'"
expect_eq "no certificate for either" 0 \
  "$(sql "SELECT count(*) FROM certificates WHERE device_id IN ('dev-00005', 'dev-00006')")"

# -- the report -----------------------------------------------------------------------------------
json=$("${M[@]}" report --json "${S[@]}")
counts=$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(" ".join(
  "%s:%d/%d/%d/%d" % (b["batch"], b["expected"], b["enrolled"], b["seen_not_enrolled"], b["never_seen"])
  for b in d["batches"]), d["unknown_attempts"], d["unknown_certificates"])' <<<"$json")
expect_eq "report: expected/enrolled/seen/never seen per batch; unknown attempts, certificates" \
  "line-a:3/2/0/1 line-b:2/1/1/0 1 1" "$counts"
out=$("${M[@]}" report --batch line-a "${S[@]}")
expect_contains "the table names the batch" "line-a" "$out"
expect_contains "... and the unknown attempts" "1 attempt(s) by 1 certificate(s)" "$out"
rc=0; "${M[@]}" report --batch nosuch "${S[@]}" 2>/dev/null || rc=$?
expect_eq "a report of an unknown batch fails" 1 "$rc"
check "audit verify passes" "$PROVISIOND" audit verify "${S[@]}"
stop_daemon

# -- without --require-manifest the same device enrolls: the flag is what refused it ------------
start_daemon --trust "$T/fleet/factory-ca.crt"
SIM=("$DEVICE_SIM" enroll --fleet "$T/fleet" --server "127.0.0.1:$PORT" --ca-bundle "$CA")
out=$("${SIM[@]}" --devices dev-00006 2>&1 || true)
expect_contains "without the flag, a device in no manifest enrolls" "enroll: ok=1 failed=0" "$out"
finish
