#!/usr/bin/env bash
# Factory manifests on a PostgreSQL store (tests/db/pg_cluster.sh --tcp), as manifest.sh checks
# them on SQLite: `manifest import --store postgresql://...` of a CSV (one fingerprint in
# uppercase) and a JSON batch, the same file again a no-op, a conflicting file refused naming its
# line with nothing written; `serve --require-manifest` on that store: a listed device enrolls, a
# trusted but unlisted one gets 403 not_in_manifest (its enrollment_events row on PostgreSQL);
# `manifest report --json`'s counts; audit verify.
. "$(dirname "$0")/lib.sh"

PG_CLUSTER="$(dirname "$0")/../db/pg_cluster.sh"
PGSTATE="$T/pg"
trap 'bash "$PG_CLUSTER" stop "$PGSTATE" >/dev/null 2>&1 || true; cleanup' EXIT
bash "$PG_CLUSTER" start "$PGSTATE" --tcp
if [ ! -s "$PGSTATE/conninfo" ]; then
  echo "FAIL: no PostgreSQL cluster: $(cat "$PGSTATE/error" 2>/dev/null)" >&2
  exit 1
fi
ADMINPG=$(cat "$PGSTATE/conninfo")
PGP=$(cat "$PGSTATE/port")
psql -X "$ADMINPG" -qAtc "CREATE ROLE app LOGIN PASSWORD 'Pw-manifest-3k'"
psql -X "$ADMINPG" -qAtc "CREATE DATABASE provisiond OWNER app"
printf 'Pw-manifest-3k\n' >"$T/pw"
chmod 0600 "$T/pw"
STORE=(--store "postgresql://app@127.0.0.1:$PGP/provisiond" --store-password-file "$T/pw")
"$PROVISIOND" migrate "${STORE[@]}" >/dev/null
# lib.sh's sql (and expect_sql_eventually through it) read the PostgreSQL store here.
sql() { psql -X "$ADMINPG dbname=provisiond" -qAtc "$1"; }

init_state
"$DEVICE_SIM" factory --out "$T/fleet" --count 5 >/dev/null
fp() { openssl x509 -in "$T/fleet/devices/$1/bootstrap.crt" -outform DER | sha256sum | cut -d' ' -f1; }
upper() { tr '[:lower:]' '[:upper:]'; }
M=("$PROVISIOND" manifest)

# line-a (CSV): dev-00001 (its fingerprint in uppercase) and dev-00002. line-b (JSON): dev-00003,
# dev-00004. dev-00005 is in no manifest.
{ echo "device_id,bootstrap_sha256"
  echo "dev-00001,$(fp dev-00001 | upper)"
  echo "dev-00002,$(fp dev-00002)"; } >"$T/line-a.csv"
printf '[\n {"device_id": "dev-00003", "bootstrap_sha256": "%s"},\n {"device_id": "dev-00004", "bootstrap_sha256": "%s"}\n]\n' \
  "$(fp dev-00003)" "$(fp dev-00004)" >"$T/line-b.json"

out=$("${M[@]}" import --batch line-a "${STORE[@]}" "$T/line-a.csv" 2>&1 || true)
expect_contains "line-a (CSV) imported into PostgreSQL" "imported batch line-a: 2 device(s)" "$out"
expect_eq "the uppercase fingerprint is stored in lowercase" 1 \
  "$(sql "SELECT count(*) FROM manifest_devices WHERE device_id='dev-00001' AND bootstrap_sha256=decode('$(fp dev-00001)', 'hex')")"
out=$("${M[@]}" import --batch line-b "${STORE[@]}" "$T/line-b.json" 2>&1 || true)
expect_contains "line-b (JSON) imported" "imported batch line-b: 2 device(s)" "$out"
out=$("${M[@]}" import --batch line-a "${STORE[@]}" "$T/line-a.csv" 2>&1 || true)
expect_contains "the same file again is a no-op" "batch line-a unchanged" "$out"
expect_eq "... one import event per batch" 2 \
  "$(sql "SELECT count(*) FROM enrollment_events WHERE outcome='manifest_imported'")"
{ echo "device_id,bootstrap_sha256"; echo "dev-00005,$(fp dev-00005)"; echo "dev-00002,$(fp dev-00003)"; } \
  >"$T/conflict.csv"
rc=0; "${M[@]}" import --batch line-c "${STORE[@]}" "$T/conflict.csv" 2>"$T/conflict.err" || rc=$?
expect_eq "a conflicting file is refused" 1 "$rc"
expect_contains "... naming its conflicting line" \
  "$T/conflict.csv:3: device_id=dev-00002 bootstrap_sha256=$(fp dev-00003): device id already in batch \"line-a\"" \
  "$(cat "$T/conflict.err")"
expect_eq "... nothing of it written (4 rows, dev-00005 unknown, no batch line-c)" "4 0 0" \
  "$(sql "SELECT (SELECT count(*) FROM manifest_devices) || ' ' ||
                 (SELECT count(*) FROM manifest_devices WHERE device_id='dev-00005') || ' ' ||
                 (SELECT count(*) FROM enrollment_events WHERE reason LIKE '%line-c%')")"

start_daemon "${STORE[@]}" --trust "$T/fleet/factory-ca.crt" --require-manifest
SIM=("$DEVICE_SIM" enroll --fleet "$T/fleet" --server "127.0.0.1:$PORT" --ca-bundle "$CA")
out=$("${SIM[@]}" --devices dev-00001,dev-00003 2>&1 || true)
expect_contains "listed devices enroll (one per batch)" "enroll: ok=2 failed=0" "$out"
out=$("${SIM[@]}" --devices dev-00005 2>&1 || true)
expect_contains "a trusted device in no manifest is refused" "enroll: ok=0 failed=1" "$out"
expect_contains "... with 403" "403" "$out"
expect_sql_eventually "not_in_manifest recorded (403) in PostgreSQL's enrollment_events" \
  "403|not_in_manifest: bootstrap certificate is in no factory manifest" \
  "SELECT http_status, reason FROM enrollment_events WHERE device_id='dev-00005'"
expect_eq "certificates: dev-00001 and dev-00003 only" "dev-00001 dev-00003" \
  "$(sql "SELECT device_id FROM certificates ORDER BY device_id" | paste -sd' ')"

json=$("${M[@]}" report --json "${STORE[@]}")
counts=$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(" ".join(
  "%s:%d/%d/%d/%d" % (b["batch"], b["expected"], b["enrolled"], b["seen_not_enrolled"], b["never_seen"])
  for b in d["batches"]), d["unknown_attempts"], d["unknown_certificates"])' <<<"$json")
expect_eq "report: expected/enrolled/seen/never seen per batch; unknown attempts, certificates" \
  "line-a:2/1/0/1 line-b:2/1/0/1 1 1" "$counts"
check "audit verify on the PostgreSQL store" "$PROVISIOND" audit verify "${STORE[@]}"
stop_daemon
finish
