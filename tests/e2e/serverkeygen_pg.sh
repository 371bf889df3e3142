#!/usr/bin/env bash
# serverkeygen_pg.sh — server-side key generation on a PostgreSQL store (tests/db/pg_cluster.sh
# --tcp): curl gets a key and its certificate from a daemon on PostgreSQL; the private key (its
# base64 as sent, the hex of its DER and of its private scalar) is in no row of a pg_dump of the
# database nor in the daemon log; a second serverkeygen with the same bootstrap certificate is
# refused as simpleenroll refuses it (one-time bootstrap rule), recorded in the store.
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
psql -X "$ADMIN" -qAtc "CREATE ROLE app LOGIN PASSWORD 'Pw-keygen-7k'"
psql -X "$ADMIN" -qAtc "CREATE DATABASE provisiond OWNER app"
printf 'Pw-keygen-7k\n' >"$T/pw"
chmod 0600 "$T/pw"
STORE=(--store "postgresql://app@127.0.0.1:$PGP/provisiond" --store-password-file "$T/pw")
"$PROVISIOND" migrate "${STORE[@]}" >/dev/null
pq() { PGPASSWORD=Pw-keygen-7k psql -X -h 127.0.0.1 -p "$PGP" -U app -d provisiond -qAtc "$1"; }

init_state
make_openssl_ca factory
make_openssl_device factory dev-pg-1
start_daemon --trust "$T/factory.crt" --serverkeygen "${STORE[@]}"
keygen_curl() {  # keygen_curl CSR_B64 -> HTTP status; body $T/kg.body, headers $T/kg.hdr
  curl -sS --tlsv1.3 --cacert "$CA" --cert "$T/dev-pg-1.crt" --key "$T/dev-pg-1.key" \
    -H 'Content-Type: application/pkcs10' --data-binary @"$1" \
    -D "$T/kg.hdr" -o "$T/kg.body" -w '%{http_code}' "$EST/serverkeygen"
}

make_csr dev-pg-1 "$T/csr1"
expect_eq "serverkeygen on PostgreSQL: 200" 200 "$(keygen_curl "$T/csr1.b64")"
boundary=$(tr -d '\r' < "$T/kg.hdr" | sed -n 's/^Content-Type: multipart\/mixed; boundary=//p')
# Part 1's base64 lines (after its blank line, up to the next delimiter), then part 2's.
tr -d '\r' < "$T/kg.body" | awk -v b="--$boundary" -v out="$T/part" '
  $0 == b || $0 == b "--" { n++; head = 1; next }
  head && $0 == "" { head = 0; next }
  !head { print > (out n ".b64") }'
base64 -d < "$T/part1.b64" > "$T/kg.p8"
base64 -d < "$T/part2.b64" | openssl pkcs7 -inform DER -print_certs -out "$T/kg.crt"
check "the key is PKCS#8" openssl pkey -inform DER -in "$T/kg.p8" -out "$T/kg.key"
check "the certificate verifies against the CA" openssl verify -CAfile "$CA" "$T/kg.crt"
check "the key matches the certificate" \
  cmp <(openssl x509 -in "$T/kg.crt" -noout -pubkey) <(openssl pkey -in "$T/kg.key" -pubout)
serial=$(openssl x509 -in "$T/kg.crt" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f')
expect_eq "the certificate row is in PostgreSQL" "dev-pg-1|enroll" \
  "$(pq "SELECT device_id, kind FROM certificates WHERE serial = '$serial'")"
expect_eq "recorded as a server-generated key" "serverkeygen|issued|200|issued_server_key" \
  "$(pq "SELECT endpoint, outcome, http_status, reason FROM enrollment_events WHERE serial = '$serial'")"

# The key nowhere in the database or the log: its base64 (as sent, and unwrapped), the hex of its
# DER, and the hex of the private scalar alone (however a leak would encode the key's bytes).
PGPASSWORD=Pw-keygen-7k pg_dump -h 127.0.0.1 -p "$PGP" -U app provisiond > "$T/dump.sql"
check "pg_dump holds the certificate (the dump is real)" \
  grep -qF "$(openssl x509 -in "$T/kg.crt" -outform DER | od -An -v -tx1 | tr -d ' \n' | cut -c1-64)" \
  "$T/dump.sql"
key_b64=$(head -1 "$T/part1.b64")
key_b64_all=$(tr -d '\n' < "$T/part1.b64")
key_hex=$(od -An -v -tx1 "$T/kg.p8" | tr -d ' \n')
scalar=$(openssl pkey -in "$T/kg.key" -noout -text | sed -n '/^priv:/,/^pub:/p' | sed '1d;$d' | tr -d ' :\n')
expect_eq "the private scalar is 32 bytes" 64 "${#scalar}"
for where in "$T/dump.sql" "$T/daemon.log"; do
  flat=$(tr -d '\n' < "$where" | tr 'A-F' 'a-f')
  leaks=""
  grep -qF -- "$key_b64" "$where" && leaks+=" base64-line"
  grep -qF -- "${key_b64_all:8:64}" <<<"$(tr -d '\n\\' < "$where")" && leaks+=" base64"
  grep -qF -- "${key_hex:60:64}" <<<"$flat" && leaks+=" der-hex"
  grep -qF -- "$scalar" <<<"$flat" && leaks+=" scalar-hex"
  expect_eq "no trace of the key in $(basename "$where")" "" "$leaks"
done

# One-time bootstrap rule: a second serverkeygen with the same bootstrap certificate is refused as
# simpleenroll refuses it, and the refusal is recorded in PostgreSQL.
make_csr dev-pg-1 "$T/csr2"
expect_eq "second serverkeygen: 403" 403 "$(keygen_curl "$T/csr2.b64")"
expect_eq "... the one-time reason" "bootstrap certificate already used to obtain a certificate" \
  "$(cat "$T/kg.body")"
expect_eq "... simpleenroll gives the same" 403 "$(enroll_curl "$T/dev-pg-1" "$T/csr2.b64")"
check "... byte for byte" cmp "$T/kg.body" "$T/resp.body"
for _ in $(seq 1 50); do
  got=$(pq "SELECT count(*) FROM enrollment_events WHERE endpoint = 'serverkeygen' AND http_status = 403 AND reason LIKE 'bootstrap_exhausted:%'")
  [ "$got" = 1 ] && break
  sleep 0.1
done
expect_eq "... recorded in PostgreSQL" 1 "$got"
expect_eq "still one certificate for dev-pg-1" 1 \
  "$(pq "SELECT count(*) FROM certificates WHERE device_id = 'dev-pg-1'")"
check "audit verify on the PostgreSQL store" "$PROVISIOND" audit verify "${STORE[@]}"
finish
