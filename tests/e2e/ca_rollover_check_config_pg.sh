#!/usr/bin/env bash
# ca_rollover_check_config_pg.sh — `provisiond check-config` after a CA rollover on PostgreSQL with
# file keys (#19 part 3): it reads the generations' states from the store (its own session, with
# --store-password-file's password), so once generation 1 is retired and its ca.key destroyed it
# passes; the active generation's missing key fails naming that generation; a store it cannot
# read makes it check every generation's key.
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
psql -X "$ADMINPG" -qAtc "CREATE ROLE app LOGIN PASSWORD 'Pw-cc-4k'"
psql -X "$ADMINPG" -qAtc "CREATE DATABASE provisiond OWNER app"
printf 'Pw-cc-4k\n' >"$T/pw"
printf 'not-the-password\n' >"$T/badpw"
chmod 0600 "$T/pw" "$T/badpw"
URL="postgresql://app@127.0.0.1:$PGP/provisiond"
STORE=(--store "$URL" --store-password-file "$T/pw")
"$PROVISIOND" migrate "${STORE[@]}" >/dev/null

init_state
"$DEVICE_SIM" factory --out "$T/fleet" --count 1 >/dev/null
ADMIN=(--state-dir "$T/state" "${STORE[@]}")
CHECK=("$PROVISIOND" check-config --state-dir "$T/state" --trust "$T/fleet/factory-ca.crt"
       --listen 127.0.0.1:0 --store "$URL")
problems() { "${CHECK[@]}" "$@" 2>&1 >/dev/null || true; }

check "ca rollover" "$PROVISIOND" ca rollover "${ADMIN[@]}"
check "ca activate" "$PROVISIOND" ca activate "${ADMIN[@]}"
check "ca retire (generation 1)" "$PROVISIOND" ca retire "${ADMIN[@]}"
mv "$T/state/ca.key" "$T/gen1.key"
check "generation 1 retired and its key destroyed: check-config passes" \
  "${CHECK[@]}" --store-password-file "$T/pw"

mv "$T/state/ca-gen2/ca.key" "$T/gen2.key"
out=$(problems --store-password-file "$T/pw")
expect_contains "the active generation's key missing fails, naming generation 2's key" \
  "$T/state/ca-gen2/ca.key: No such file" "$out"
rc=0; "${CHECK[@]}" --store-password-file "$T/pw" >/dev/null 2>&1 || rc=$?
expect_eq "exit 1" 1 "$rc"
if grep -qF "$T/state/ca.key" <<<"$out"; then fail "retired generation 1's key checked: $out"
else pass "and retired generation 1's key is still not checked"; fi
mv "$T/gen2.key" "$T/state/ca-gen2/ca.key"

# A store check-config cannot read (here: a wrong password; an outage alike) is no problem of its
# own, so an outage does not fail a start or reload; every generation in the state dir is then
# checked, so retired generation 1's destroyed key is reported (the one false failure).
out=$(problems --store-password-file "$T/badpw")
if grep -q "store postgresql" <<<"$out"; then fail "an unreadable store is a problem: $out"
else pass "an unreadable store is not a problem of its own"; fi
expect_contains "every generation is checked then: generation 1's destroyed key is reported" \
  "$T/state/ca.key" "$out"
finish
