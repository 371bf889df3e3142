#!/usr/bin/env bash
# --store on a real PostgreSQL 15 (tests/db/pg_cluster.sh --tcp: password auth over loopback TCP):
# bad URLs and passwords inside them refused with one line that never shows the password, the
# password file and libpq's passfile, migrate, serve and every admin command on the shared store,
# serve refusing an unmigrated and a newer schema, and the README's queries run in psql.
. "$(dirname "$0")/lib.sh"

PG_CLUSTER="$(dirname "$0")/../db/pg_cluster.sh"
PGSTATE="$T/pg"
trap 'bash "$PG_CLUSTER" stop "$PGSTATE" >/dev/null 2>&1 || true; cleanup' EXIT
bash "$PG_CLUSTER" start "$PGSTATE" --tcp
if [ ! -s "$PGSTATE/conninfo" ]; then  # pg_cluster.sh keeps the reason in STATE_DIR/error
  echo "FAIL: no PostgreSQL cluster: $(cat "$PGSTATE/error" 2>/dev/null)" >&2
  exit 1
fi
ADMIN=$(cat "$PGSTATE/conninfo")
PGP=$(cat "$PGSTATE/port")
PASSWORD="Pw-e2e-7f3q"
psql -X "$ADMIN" -qAtc "CREATE ROLE app LOGIN PASSWORD '$PASSWORD'"
for db in provisiond fresh viafile; do psql -X "$ADMIN" -qAtc "CREATE DATABASE $db OWNER app"; done
pg() { psql -X "$ADMIN dbname=provisiond" -qAt "$@"; }

printf '%s\n' "$PASSWORD" >"$T/pw"
chmod 0600 "$T/pw"
URL="postgresql://app@127.0.0.1:$PGP/provisiond"
STORE=(--store "$URL" --store-password-file "$T/pw")

make_openssl_ca factory
init_state
"$DEVICE_SIM" factory --out "$T/fleet" --count 3 >/dev/null

# refused NEEDLE ARGS...: exit 2 (a usage error), one line on stderr holding NEEDLE and never the
# password (nor the wrong one, "Wrong-9x").
refused() {
  local needle=$1; shift
  local rc=0
  timeout 10 "$PROVISIOND" "$@" >"$T/out" 2>"$T/err" </dev/null || rc=$?
  local what="provisiond $*"
  if [ "$rc" -ne "${WANT_RC:-2}" ]; then fail "$what: exit $rc, want ${WANT_RC:-2}: $(cat "$T/err")"
  elif [ "$(wc -l <"$T/err")" -ne 1 ]; then fail "$what: want one line: $(cat "$T/err")"
  elif ! grep -qF -- "$needle" "$T/err"; then fail "$what: '$needle' not in: $(cat "$T/err")"
  elif grep -qF -e "$PASSWORD" -e "Wrong-9x" "$T/err" "$T/out"; then fail "$what: shows the password"
  else pass "$what -> $(cat "$T/err")"
  fi
}

# -- bad URLs and passwords, on serve and on the admin commands -----------------------------------
SERVE=(serve --state-dir "$T/state" --trust "$T/factory.crt" --listen 127.0.0.1:0)
refused "unknown scheme 'mysql'" list --store "mysql://app@127.0.0.1/x"
refused "--store: sqlite: needs a path" "${SERVE[@]}" --store sqlite:
refused "password inside the URI is refused" list --store "postgresql://app:$PASSWORD@127.0.0.1:$PGP/provisiond"
refused "password inside the URI is refused" "${SERVE[@]}" --store "postgres://app:$PASSWORD@127.0.0.1:$PGP/x"
refused "password inside the URI is refused" migrate --store "$URL?password=$PASSWORD"
refused "password inside the URI is refused" revoke --store "$URL?sslmode=disable&password=$PASSWORD" --serial 01
refused "not a valid libpq URI" audit verify --store "$URL?nosuch=1"
# A mistyped option: CLI11's own refusal repeats what it could not place, without the password.
WANT_RC=109 refused "postgresql://app:***@" list --stor "postgresql://app:$PASSWORD@127.0.0.1/x"
refused "--store-password-file: only for a postgresql://" list --state-dir "$T/state" --store-password-file "$T/pw"
cp "$T/pw" "$T/pw-open"; chmod 0644 "$T/pw-open"
refused "mode 0644, want 0600" list --store "$URL" --store-password-file "$T/pw-open"
: >"$T/pw-empty"; chmod 0600 "$T/pw-empty"
refused "empty" list --store "$URL" --store-password-file "$T/pw-empty"
printf 'Wrong-9x\n' >"$T/pw-wrong"; chmod 0600 "$T/pw-wrong"
# The server refuses: the libpq error passed through names the user, never the password.
WANT_RC=1 refused "password authentication failed" list --store "$URL" --store-password-file "$T/pw-wrong"
WANT_RC=1 refused "no password supplied" list --store "$URL"   # no password at all

# The schema versions this build writes (db/pg_schema.h kPgSchemaVersion, db/sqlite_store.h
# kSchemaVersion).
PG_SCHEMA=$(sed -n 's/.*kPgSchemaVersion = \([0-9]*\);.*/\1/p' "$(dirname "$0")/../../db/pg_schema.h")
SQLITE_SCHEMA=$(sed -n 's/.*kSchemaVersion = \([0-9]*\);.*/\1/p' "$(dirname "$0")/../../db/sqlite_store.h")
[ -n "$PG_SCHEMA" ] && [ -n "$SQLITE_SCHEMA" ] || fail "schema versions not found in db/*.h"

# -- an unmigrated database: every command refuses it with one line ------------------------------
WANT_RC=1 refused "run \`provisiond migrate\` first" list "${STORE[@]}"
rc=0; timeout 20 "$PROVISIOND" "${SERVE[@]}" "${STORE[@]}" 2>"$T/serve.err" || rc=$?
expect_eq "serve refuses an unmigrated database" 1 "$rc"
expect_contains "... with one line naming both versions" \
  "schema version 0, this program needs $PG_SCHEMA; run \`provisiond migrate\` first" "$(cat "$T/serve.err")"
expect_eq "... and only that line" 1 "$(wc -l <"$T/serve.err")"

# -- migrate: password file, libpq's passfile= and PGPASSFILE ------------------------------------
out=$("$PROVISIOND" migrate "${STORE[@]}")
expect_eq "migrate prints the version" \
  "schema version $PG_SCHEMA (postgresql host=127.0.0.1 port=$PGP dbname=provisiond)" "$out"
expect_eq "migrate again: nothing to do, same line" "$out" "$("$PROVISIOND" migrate "${STORE[@]}")"
printf '127.0.0.1:%s:*:app:%s\n' "$PGP" "$PASSWORD" >"$T/pgpass"; chmod 0600 "$T/pgpass"
check "migrate with passfile= in the URI" \
  "$PROVISIOND" migrate --store "postgresql://app@127.0.0.1:$PGP/viafile?passfile=$T/pgpass"
check "list with PGPASSFILE" env PGPASSFILE="$T/pgpass" "$PROVISIOND" list --store "$URL"
expect_eq "migrate on sqlite reports its version" "schema version $SQLITE_SCHEMA (sqlite:$T/state/provisiond.db)" \
  "$("$PROVISIOND" migrate --state-dir "$T/state")"

# -- serve on PostgreSQL; enroll; every admin command with --store --------------------------------
start_daemon --trust "$T/fleet/factory-ca.crt" "${STORE[@]}" --metrics-listen 127.0.0.1:0
expect_contains "serve names the store, without the password" \
  "store=\"postgresql host=127.0.0.1 port=$PGP dbname=provisiond\"" "$(grep 'listening on' "$T/daemon.log")"
SIM=("$DEVICE_SIM" --fleet "$T/fleet" --server "127.0.0.1:$PORT" --ca-bundle "$CA")
out=$("${SIM[0]}" enroll "${SIM[@]:1}" --devices dev-00001,dev-00002)
expect_contains "2 devices enroll through PostgreSQL" "enroll: ok=2 failed=0" "$out"
expect_eq "their rows are in PostgreSQL" 2 "$(pg -c "SELECT count(*) FROM certificates")"
expect_eq "nothing went to the SQLite file" 0 \
  "$(sqlite3 "$T/state/provisiond.db" 'SELECT count(*) FROM certificates')"
MPORT=$(sed -n 's/^<5>metrics_listening address=127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$T/daemon.log")
ops=$(curl -sS "http://127.0.0.1:$MPORT/metrics" | sed -n 's/^provisiond_db_operations_total //p')
check "/metrics counts the PostgreSQL writer's operations ($ops)" test "${ops:-0}" -ge 4
out=$("$PROVISIOND" list "${STORE[@]}")
expect_contains "list --store shows dev-00001" "dev-00001" "$out"
serial=$(pg -c "SELECT serial FROM certificates WHERE device_id='dev-00002'")
check "revoke --store" "$PROVISIOND" revoke "${STORE[@]}" --serial "$serial" --reason keyCompromise
expect_eq "the revocation is in PostgreSQL" 1 \
  "$(pg -c "SELECT count(*) FROM certificates WHERE revoked_at IS NOT NULL")"
check "block --store" "$PROVISIOND" block "${STORE[@]}" --device-id dev-00003 --reason e2e
out=$("${SIM[0]}" enroll "${SIM[@]:1}" --devices dev-00003 2>&1 || true)
expect_contains "the running replica refuses the device blocked by the admin command" "failed=1" "$out"
check "crl --store (the CA key from --state-dir)" \
  "$PROVISIOND" crl "${STORE[@]}" --state-dir "$T/state" --out "$T/crl.pem" --pem
expect_contains "the CRL lists the revoked serial" "$(echo "$serial" | tr 'a-f' 'A-F')" \
  "$(openssl crl -in "$T/crl.pem" -noout -text)"
out=$("$PROVISIOND" audit verify "${STORE[@]}")
expect_contains "audit verify --store" "audit chain ok" "$out"
# A config file carries the store for serve and the admin commands alike.
printf '[serve]\nstore = "%s"\nstore-password-file = "%s"\n' "$URL" "$T/pw" >"$T/provisiond.toml"
expect_contains "list with the store from the config file" "dev-00001" \
  "$("$PROVISIOND" --config "$T/provisiond.toml" list)"
stop_daemon

# -- a database newer than this program ----------------------------------------------------------
pg -c "UPDATE schema_version SET version = 99"
rc=0; timeout 20 "$PROVISIOND" "${SERVE[@]}" "${STORE[@]}" 2>"$T/serve.err" || rc=$?
expect_eq "serve refuses a newer schema" 1 "$rc"
expect_contains "... naming both versions" "schema version 99, this program needs $PG_SCHEMA" \
  "$(cat "$T/serve.err")"
WANT_RC=1 refused "schema version 99, this program needs $PG_SCHEMA" audit verify "${STORE[@]}"
WANT_RC=1 refused "this program knows up to $PG_SCHEMA" migrate "${STORE[@]}"
pg -c "UPDATE schema_version SET version = $PG_SCHEMA"

# -- the README's queries, in psql -----------------------------------------------------------------
# Every `sqlite3 $DB "..."` line of README.md's database section runs in psql too, except those
# using SQLite's own functions (strftime, writefile) or an X'...' literal (a bit string to
# PostgreSQL); docs/shared-store.md gives their psql form, run here as written (the export with a
# real serial, its output checked by openssl; FP a bootstrap fingerprint of this store).
README="$(dirname "$0")/../../README.md"
fp=$(pg -c "SELECT encode(auth_cert_fingerprint, 'hex') FROM certificates LIMIT 1")
[ ${#fp} -eq 64 ] || fail "no certificate's bootstrap fingerprint to query with: '$fp'"
n=0
while IFS= read -r query; do
  n=$((n + 1))
  if grep -qE "strftime|writefile|X'" <<<"$query"; then continue; fi
  if pg -c "$query" >/dev/null 2>"$T/q.err"; then pass "psql: $query"
  else fail "psql: $query: $(cat "$T/q.err")"; fi
done < <(sed -n 's/^sqlite3 [^"]*"\(.*\)".*$/\1/p' "$README")
[ "$n" -ge 9 ] || fail "found only $n sqlite3 queries in README.md"
n=0
while IFS= read -r line; do
  n=$((n + 1))
  line=${line//\'...\'/\'$serial\'}
  if (cd "$T" && FP=$fp STORE="$ADMIN dbname=provisiond" bash -euo pipefail -c "$line" >/dev/null 2>"$T/q.err")
  then pass "docs/shared-store.md: $line"; else fail "docs/shared-store.md: $line: $(cat "$T/q.err")"; fi
done < <(grep '^psql "$STORE"' "$(dirname "$0")/../../docs/shared-store.md")
expect_eq "docs/shared-store.md gives 5 psql queries" 5 "$n"
check "the exported certificate parses" openssl x509 -inform DER -in "$T/cert.der" -noout
finish
