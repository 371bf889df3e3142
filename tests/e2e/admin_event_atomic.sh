#!/usr/bin/env bash
# admin_event_atomic.sh — `block`, `unblock`, `deny-bootstrap` and `grant-rebootstrap` write their
# change and the operator's admin event in one transaction (db/store.h, the *Recorded forms), on
# SQLite and on PostgreSQL: with a trigger refusing admin events, each command fails (exit 1) and
# changes nothing, neither the state table nor the chain; without it, each writes both and
# `audit verify` passes.
. "$(dirname "$0")/lib.sh"

PG_CLUSTER="$(dirname "$0")/../db/pg_cluster.sh"
PGSTATE="$T/pg"
trap 'bash "$PG_CLUSTER" stop "$PGSTATE" >/dev/null 2>&1 || true; cleanup' EXIT
FP=$(printf 'e%.0s' $(seq 1 64))

state() {  # blocks (active), denylist rows, grants, events: one line
  q "SELECT (SELECT count(*) FROM device_blocks WHERE lifted_at IS NULL) || ' ' ||
            (SELECT count(*) FROM bootstrap_denylist) || ' ' ||
            (SELECT count(*) FROM rebootstrap_grants) || ' ' ||
            (SELECT count(*) FROM enrollment_events)"
}

commands() {
  q "$REFUSE" >/dev/null
  "$PROVISIOND" block "${S[@]}" --device-id dev-2 --reason lost >/dev/null 2>&1 \
    || fail "$NAME: block dev-2 (no trigger yet)"
  q "$TRIGGER"
  local before; before=$(state)
  for cmd in "block --device-id dev-1 --reason lost" "unblock --device-id dev-2 --reason found" \
             "deny-bootstrap --fingerprint $FP --note stolen" \
             "grant-rebootstrap --device-id dev-1 --reason reset"; do
    # shellcheck disable=SC2086
    out=$("$PROVISIOND" ${cmd%% *} "${S[@]}" ${cmd#* } 2>&1) && fail "$NAME: ${cmd%% *} succeeded"
    expect_contains "$NAME: ${cmd%% *} fails on the admin event" "admin events refused" "$out"
    expect_eq "$NAME: ... and changed nothing" "$before" "$(state)"
  done
  q "$UNTRIGGER"
  for cmd in "block --device-id dev-1 --reason lost" "unblock --device-id dev-2 --reason found" \
             "deny-bootstrap --fingerprint $FP --note stolen" \
             "grant-rebootstrap --device-id dev-1 --reason reset"; do
    # shellcheck disable=SC2086
    "$PROVISIOND" ${cmd%% *} "${S[@]}" ${cmd#* } >/dev/null 2>&1 \
      || fail "$NAME: ${cmd%% *} without the trigger"
  done
  expect_eq "$NAME: each wrote its row and two events (state + admin)" \
    "1 1 1 $(( ${before##* } + 8 ))" "$(state)"
  expect_eq "$NAME: five admin events" 5 \
    "$(q "SELECT count(*) FROM enrollment_events WHERE endpoint = 'admin'")"
  expect_contains "$NAME: audit verify" "audit chain ok" "$("$PROVISIOND" audit verify "${S[@]}" 2>&1)"
}

# -- SQLite ---------------------------------------------------------------------------------------
NAME=sqlite
init_state
S=(--state-dir "$T/state")
q() { sql "$1"; }
REFUSE="SELECT 1"
TRIGGER="CREATE TRIGGER refuse_admin BEFORE INSERT ON enrollment_events WHEN NEW.endpoint = 'admin'
  BEGIN SELECT RAISE(ABORT, 'admin events refused'); END"
UNTRIGGER="DROP TRIGGER refuse_admin"
commands

# -- PostgreSQL -----------------------------------------------------------------------------------
NAME=postgresql
bash "$PG_CLUSTER" start "$PGSTATE" --tcp
if [ ! -s "$PGSTATE/conninfo" ]; then
  echo "FAIL: no PostgreSQL cluster: $(cat "$PGSTATE/error" 2>/dev/null)" >&2
  exit 1
fi
ADMIN=$(cat "$PGSTATE/conninfo")
psql -X "$ADMIN" -qAtc "CREATE ROLE app LOGIN PASSWORD 'Pw-admin-3x8'"
psql -X "$ADMIN" -qAtc "CREATE DATABASE provisiond OWNER app"
q() { psql -X "$ADMIN dbname=provisiond" -qAt -v ON_ERROR_STOP=1 -c "$1"; }
printf 'Pw-admin-3x8\n' > "$T/pw"
chmod 0600 "$T/pw"
S=(--state-dir "$T/state" --store "postgresql://app@127.0.0.1:$(cat "$PGSTATE/port")/provisiond"
   --store-password-file "$T/pw")
"$PROVISIOND" migrate "${S[@]:2}" >/dev/null 2>&1
REFUSE="CREATE FUNCTION refuse_admin() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN
  IF NEW.endpoint = 'admin' THEN RAISE EXCEPTION 'admin events refused'; END IF; RETURN NEW;
  END \$\$"
TRIGGER="CREATE TRIGGER refuse_admin BEFORE INSERT ON enrollment_events FOR EACH ROW
  EXECUTE FUNCTION refuse_admin()"
UNTRIGGER="DROP TRIGGER refuse_admin ON enrollment_events"
commands
finish
