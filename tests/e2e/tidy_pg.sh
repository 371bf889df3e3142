#!/usr/bin/env bash
# tidy_pg.sh — `provisiond tidy` on the shared PostgreSQL store beside a serving daemon: device-sim
# enrolls while tidy removes the certificates the test made expired and cuts the chain; every
# enrollment succeeds, only the expired certificates go, `audit verify` and `verify-archive` pass.
. "$(dirname "$0")/lib.sh"

PG_CLUSTER="$(dirname "$0")/../db/pg_cluster.sh"
PGSTATE="$T/pg"
trap 'stop_daemon >/dev/null 2>&1 || true; bash "$PG_CLUSTER" stop "$PGSTATE" >/dev/null 2>&1 || true; cleanup' EXIT
bash "$PG_CLUSTER" start "$PGSTATE" --tcp
if [ ! -s "$PGSTATE/conninfo" ]; then
  echo "FAIL: no PostgreSQL cluster: $(cat "$PGSTATE/error" 2>/dev/null)" >&2
  exit 1
fi
ADMIN=$(cat "$PGSTATE/conninfo")
PGP=$(cat "$PGSTATE/port")
psql -X "$ADMIN" -qAtc "CREATE ROLE app LOGIN PASSWORD 'Pw-tidy-4k2'"
psql -X "$ADMIN" -qAtc "CREATE DATABASE provisiond OWNER app"
pg() { psql -X "$ADMIN dbname=provisiond" -qAt "$@"; }
printf 'Pw-tidy-4k2\n' >"$T/pw"
chmod 0600 "$T/pw"
STORE=(--store "postgresql://app@127.0.0.1:$PGP/provisiond" --store-password-file "$T/pw")
init_state
S=(--state-dir "$T/state" "${STORE[@]}")
"$PROVISIOND" migrate "${STORE[@]}" >/dev/null
"$DEVICE_SIM" factory --out "$T/fleet" --count 18 >/dev/null
start_daemon --trust "$T/fleet/factory-ca.crt" "${STORE[@]}"
SIM=("$DEVICE_SIM" --fleet "$T/fleet" --server "127.0.0.1:$PORT" --ca-bundle "$CA")

out=$("${SIM[0]}" enroll "${SIM[@]:1}" --devices "$(seq -f 'dev-%05g' 1 6 | paste -sd,)")
expect_contains "6 devices enroll" "enroll: ok=6 failed=0" "$out"
pg -c "UPDATE certificates SET not_after = '2020-01-01T00:00:00Z' WHERE device_id <= 'dev-00004'" >/dev/null
"$PROVISIOND" revoke "${S[@]}" --device-id dev-00005 >/dev/null

"${SIM[0]}" enroll "${SIM[@]:1}" --devices "$(seq -f 'dev-%05g' 7 18 | paste -sd,)" \
  --concurrency 2 > "$T/sim.out" 2>&1 &
SIM_PID=$!
sleep 1.1  # event times are whole seconds: the rows so far are then all before "now"
out=$("$PROVISIOND" tidy "${S[@]}" --expired-before "$(date -u -d '-2 hours' +%FT%TZ)" \
      --events-before "$(date -u +%FT%TZ)" --archive "$T/archive" 2>&1)
expect_contains "tidy removed the 4 expired certificates" "removed 4 certificates" "$out"
wait "$SIM_PID"
expect_contains "every enrollment during tidy succeeded" "enroll: ok=12 failed=0" "$(cat "$T/sim.out")"
expect_eq "kept: the revoked-unexpired and the active" 14 "$(pg -c "SELECT count(*) FROM certificates")"
expect_eq "dev-00005 (revoked, unexpired) kept" 1 \
  "$(pg -c "SELECT count(*) FROM certificates WHERE device_id = 'dev-00005' AND revoked_at IS NOT NULL")"
expect_eq "tombstones" 4 "$(pg -c "SELECT count(*) FROM enroll_tombstones")"
check "the chain was cut" test "$(pg -c "SELECT first_id FROM audit_chain_base")" -gt 1
out=$("$PROVISIOND" audit verify "${S[@]}" 2>&1)
expect_contains "audit verify after tidy" "audit chain ok" "$out"
out=$("$PROVISIOND" audit verify-archive "${S[@]}" "$T/archive" 2>&1)
expect_contains "the archive verifies" "archive ok:" "$out"
rm -f "$T/fleet/devices/dev-00003/operational."*
out=$("${SIM[0]}" enroll "${SIM[@]:1}" --devices dev-00003 2>&1 || true)
expect_contains "a removed enrollment's bootstrap cannot enroll again" "failed=1" "$out"
stop_daemon
finish
