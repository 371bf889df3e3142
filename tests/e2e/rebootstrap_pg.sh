#!/usr/bin/env bash
# rebootstrap_pg.sh — a re-bootstrap grant on a PostgreSQL store (tests/db/pg_cluster.sh --tcp)
# served by two daemons: granted by `provisiond grant-rebootstrap --store postgresql://...`, then
# 20 new keys raced over both daemons get exactly one certificate (the database's conditional
# UPDATE decides, not a lock in one process); the next is refused as spent; the old certificate is
# revoked (--revoke-previous); list --grants and audit verify on the shared store.
. "$(dirname "$0")/lib.sh"

PG_CLUSTER="$(dirname "$0")/../db/pg_cluster.sh"
PGSTATE="$T/pg"
SECOND_PID=""
stop_second() {
  [ -n "$SECOND_PID" ] || return 0
  kill -TERM "$SECOND_PID" 2>/dev/null || true
  wait "$SECOND_PID" 2>/dev/null || true
  SECOND_PID=""
}
trap 'stop_second; bash "$PG_CLUSTER" stop "$PGSTATE" >/dev/null 2>&1 || true; cleanup' EXIT
bash "$PG_CLUSTER" start "$PGSTATE" --tcp
if [ ! -s "$PGSTATE/conninfo" ]; then
  echo "FAIL: no PostgreSQL cluster: $(cat "$PGSTATE/error" 2>/dev/null)" >&2
  exit 1
fi
ADMIN=$(cat "$PGSTATE/conninfo")
PGP=$(cat "$PGSTATE/port")
psql -X "$ADMIN" -qAtc "CREATE ROLE app LOGIN PASSWORD 'Pw-grant-4q'"
psql -X "$ADMIN" -qAtc "CREATE DATABASE provisiond OWNER app"
printf 'Pw-grant-4q\n' >"$T/pw"
chmod 0600 "$T/pw"
STORE=(--store "postgresql://app@127.0.0.1:$PGP/provisiond" --store-password-file "$T/pw")
"$PROVISIOND" migrate "${STORE[@]}" >/dev/null
pq() { PGPASSWORD=Pw-grant-4q psql -X -h 127.0.0.1 -p "$PGP" -U app -d provisiond -qAtc "$1"; }

init_state
"$DEVICE_SIM" factory --out "$T/fleet" --count 1 >/dev/null
SERVE=(--trust "$T/fleet/factory-ca.crt" --rate-limit-device 200/1h "${STORE[@]}")
start_daemon "${SERVE[@]}"
"$PROVISIOND" serve --state-dir "$T/state" --listen 127.0.0.1:0 --workers 2 "${SERVE[@]}" \
  2>"$T/second.log" &
SECOND_PID=$!
PORT2=""
for _ in $(seq 1 100); do
  PORT2=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/second.log")
  [ -n "$PORT2" ] && break
  sleep 0.1
done
[ -n "$PORT2" ] || { cat "$T/second.log" >&2; echo "second daemon did not start" >&2; exit 1; }

expect_contains "the device enrolls" "ok=1 failed=0" \
  "$("$DEVICE_SIM" enroll --fleet "$T/fleet" --server "127.0.0.1:$PORT" --ca-bundle "$CA")"
old=$(openssl x509 -in "$T/fleet/devices/dev-00001/operational.crt" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f')
BOOT="$T/fleet/devices/dev-00001/bootstrap"
race() {  # race N TAG: N new keys at once, alternating the two daemons; codes in $T/TAG.codes
  for i in $(seq 1 "$1"); do make_csr dev-00001 "$T/$2$i"; done
  seq 1 "$1" | xargs -P "$1" -I{} sh -c 'p='"$PORT"'; [ $(({} % 2)) -eq 0 ] && p='"$PORT2"'
    curl -sS --cacert "'"$CA"'" --cert "'"$BOOT.crt"'" --key "'"$BOOT.key"'" \
      -o "'"$T/$2"'{}.body" -w "%{http_code}\n" -H "Content-Type: application/pkcs10" \
      --data-binary @"'"$T/$2"'{}.b64" "https://localhost:$p/.well-known/est/simpleenroll"' \
    >"$T/$2.codes"
}

race 4 before
expect_eq "before the grant: 4 new keys refused" 4 "$(grep -c '^403$' "$T/before.codes")"
out=$("$PROVISIOND" grant-rebootstrap "${STORE[@]}" --device-id dev-00001 --revoke-previous \
      --reason 'RMA "pg"')
expect_contains "granted through the PostgreSQL store" 'device_id="dev-00001"' "$out"

race 20 race
expect_eq "exactly one 200 among 20 keys raced over two daemons" 1 "$(grep -c '^200$' "$T/race.codes")"
expect_eq "the others 403" 19 "$(grep -c '^403$' "$T/race.codes")"
expect_eq "... as spent" 19 "$(grep -l 'grant for this device was already used' "$T"/race*.body | wc -l)"
expect_eq "two certificates for the device" 2 "$(pq "SELECT count(*) FROM certificates WHERE device_id='dev-00001'")"
expect_eq "the old one revoked as superseded" 4 \
  "$(pq "SELECT revocation_reason FROM certificates WHERE serial='$old'")"
expect_eq "the spent refusals recorded" 19 \
  "$(pq "SELECT count(*) FROM enrollment_events WHERE reason LIKE 'rebootstrap_grant_spent%'")"
expect_contains "list --grants: spent" '"status":"spent"' \
  "$("$PROVISIOND" list --grants --json "${STORE[@]}")"
check "audit verify" "$PROVISIOND" audit verify "${STORE[@]}"
stop_second
stop_daemon
finish
