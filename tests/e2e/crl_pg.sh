#!/usr/bin/env bash
# crl_pg.sh — the live CRL on a PostgreSQL store (tests/db/pg_cluster.sh --tcp): a revocation by
# `provisiond revoke --store postgresql://...` from another process is served within 2 s and
# refused by device-sim's relying party; CRL numbers come from the shared crl_state row, so the
# `crl` command and serve never reuse one.
. "$(dirname "$0")/lib.sh"

PG_CLUSTER="$(dirname "$0")/../db/pg_cluster.sh"
PGSTATE="$T/pg"
trap 'bash "$PG_CLUSTER" stop "$PGSTATE" >/dev/null 2>&1 || true; cleanup' EXIT
bash "$PG_CLUSTER" start "$PGSTATE" --tcp
if [ ! -s "$PGSTATE/conninfo" ]; then
  echo "FAIL: no PostgreSQL cluster: $(cat "$PGSTATE/error" 2>/dev/null)" >&2
  exit 1
fi
ADMIN=$(cat "$PGSTATE/conninfo")
PGP=$(cat "$PGSTATE/port")
psql -X "$ADMIN" -qAtc "CREATE ROLE app LOGIN PASSWORD 'Pw-crl-9x'"
psql -X "$ADMIN" -qAtc "CREATE DATABASE provisiond OWNER app"
printf 'Pw-crl-9x\n' >"$T/pw"
chmod 0600 "$T/pw"
STORE=(--store "postgresql://app@127.0.0.1:$PGP/provisiond" --store-password-file "$T/pw")
"$PROVISIOND" migrate "${STORE[@]}" >/dev/null

init_state
"$DEVICE_SIM" factory --out "$T/fleet" --count 2 >/dev/null
CPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
CRL_URL="http://127.0.0.1:$CPORT/crl"
start_daemon "${STORE[@]}" --trust "$T/fleet/factory-ca.crt" --crl-listen "127.0.0.1:$CPORT" \
  --crl-url "$CRL_URL"
expect_contains "2 devices enroll" "ok=2 failed=0" \
  "$("$DEVICE_SIM" enroll --fleet "$T/fleet" --server "127.0.0.1:$PORT" --ca-bundle "$CA")"
check "relying party accepts both" "$DEVICE_SIM" relying-party --fleet "$T/fleet" --ca-bundle "$CA"

serial=$(openssl x509 -in "$T/fleet/devices/dev-00002/operational.crt" -noout -serial | cut -d= -f2)
t0=$(date +%s%3N)
"$PROVISIOND" revoke "${STORE[@]}" --device-id dev-00002 >/dev/null
listed=""
for _ in $(seq 1 100); do
  curl -sS --max-time 2 -o "$T/now.der" "$CRL_URL" 2>/dev/null || true
  if openssl crl -inform DER -in "$T/now.der" -noout -text 2>/dev/null | grep -q "Serial Number: $serial"; then
    listed=$(( $(date +%s%3N) - t0 )); break
  fi
  sleep 0.05
done
check "served CRL lists the serial revoked via PostgreSQL (${listed:-never} ms)" \
  test "${listed:-99999}" -lt 2000
out=$("$DEVICE_SIM" relying-party --fleet "$T/fleet" --ca-bundle "$CA" 2>&1) || true
expect_contains "relying party refuses it" "checked=2 accepted=1 revoked=1" "$out"
served=$(openssl crl -inform DER -in "$T/now.der" -noout -crlnumber | cut -d= -f2)
"$PROVISIOND" crl --state-dir "$T/state" "${STORE[@]}" --out "$T/cli.der" >/dev/null
cli=$(openssl crl -inform DER -in "$T/cli.der" -noout -crlnumber | cut -d= -f2)
check "the crl command's number ($((cli))) follows serve's ($((served)))" test "$((cli))" -gt "$((served))"
finish
