#!/usr/bin/env bash
# CA rollover on PostgreSQL with the CA key in a PKCS#11 token (SoftHSM2, #19 part 3): two serve
# replicas, each with its own state dir whose ca.key.uri reaches the same token, share one
# PostgreSQL store. `ca rollover` on A's state dir generates generation 2's key IN the token;
# ca-gen2/ (ca.key.uri and the certificates, no key file) is copied to B's state dir; `ca
# activate`; SIGHUP both: a device enrolled through each replica gets a certificate of generation
# 2, signed by the token's new key; `audit checkpoint` on the shared store is signed by generation
# 2's token key and verifies. `ca retire`; SIGHUP both: generation 1 is refused at both.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/token_lib.sh"

PG_CLUSTER="$(dirname "$0")/../db/pg_cluster.sh"
PGSTATE="$T/pg"
B_PID=""
stop_b() {
  [ -n "$B_PID" ] || return 0
  kill -TERM "$B_PID" 2>/dev/null || true
  wait "$B_PID" 2>/dev/null || true
  B_PID=""
}
trap 'stop_b; bash "$PG_CLUSTER" stop "$PGSTATE" >/dev/null 2>&1 || true; cleanup' EXIT
bash "$PG_CLUSTER" start "$PGSTATE" --tcp
if [ ! -s "$PGSTATE/conninfo" ]; then
  echo "FAIL: no PostgreSQL cluster: $(cat "$PGSTATE/error" 2>/dev/null)" >&2
  exit 1
fi
ADMINPG=$(cat "$PGSTATE/conninfo")
PGP=$(cat "$PGSTATE/port")
psql -X "$ADMINPG" -qAtc "CREATE ROLE app LOGIN PASSWORD 'Pw-rolltok-3k'"
psql -X "$ADMINPG" -qAtc "CREATE DATABASE provisiond OWNER app"
printf 'Pw-rolltok-3k\n' >"$T/pw"
chmod 0600 "$T/pw"
STORE=(--store "postgresql://app@127.0.0.1:$PGP/provisiond" --store-password-file "$T/pw")
"$PROVISIOND" migrate "${STORE[@]}" >/dev/null
pgsql() { psql -X "$ADMINPG dbname=provisiond" -qAtc "$1"; }

init_state --ca-key-uri "$TOKEN_URI"
cp -a "$T/state" "$T/state-b"  # B's own ca.key.uri copy: the same token, module and PIN file
"$DEVICE_SIM" factory --out "$T/fleet" --count 3 >/dev/null
start_daemon "${STORE[@]}" --trust "$T/fleet/factory-ca.crt"
PORT_A=$PORT
"$PROVISIOND" serve --state-dir "$T/state-b" --listen 127.0.0.1:0 --workers 1 "${STORE[@]}" \
  --trust "$T/fleet/factory-ca.crt" 2>>"$T/b.log" &
B_PID=$!
for _ in $(seq 1 100); do
  PORT_B=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/b.log")
  [ -n "$PORT_B" ] && break
  sleep 0.1
done
[ -n "$PORT_B" ] || { cat "$T/b.log" >&2; fail "replica B did not start"; finish; }
ADMIN=(--state-dir "$T/state" "${STORE[@]}")
GEN2="$T/state/ca-gen2/ca.crt"
cat "$CA" > "$T/bundle.pem"
sim() {  # sim COMMAND PORT DEVICE [args]
  "$DEVICE_SIM" "$1" --fleet "$T/fleet" --server "127.0.0.1:$2" --ca-bundle "$T/bundle.pem" \
    --devices "$3" "${@:4}" 2>&1
}
count() { grep -c "$2" "$1" || true; }
hup_both() {  # SIGHUP both replicas; wait until each has reloaded or refused to
  local needle="<[35]>reload[ed_]" a b
  a=$(count "$T/daemon.log" "$needle"); b=$(count "$T/b.log" "$needle")
  kill -HUP "$DAEMON_PID" "$B_PID"
  for _ in $(seq 1 50); do
    [ "$(count "$T/daemon.log" "$needle")" -gt "$a" ] && [ "$(count "$T/b.log" "$needle")" -gt "$b" ] && return 0
    sleep 0.1
  done
  fail "SIGHUP: both replicas did not log $needle"
}

expect_contains "dev-00001 enrolls through A (token, generation 1)" "ok=1 failed=0" \
  "$(sim enroll "$PORT_A" dev-00001)"
out=$("$PROVISIOND" ca rollover "${ADMIN[@]}" 2>&1) || fail "ca rollover: $out"
expect_contains "generation 2's key is made in the token" "in the token: pkcs11:token=provisiond;object=ca-gen2" "$out"
check "no key file in ca-gen2" test ! -e "$T/state/ca-gen2/ca.key"
cp -a "$T/state/ca-gen2" "$T/state-b/ca-gen2"
cat "$GEN2" >> "$T/bundle.pem"
check "ca activate" "$PROVISIOND" ca activate "${ADMIN[@]}"
hup_both
expect_eq "no reload refused" "" "$(grep -h reload_refused "$T/daemon.log" "$T/b.log" || true)"
expect_contains "A issues from generation 2" "ca_generations_loaded active=2" "$(cat "$T/daemon.log")"
expect_contains "B too" "ca_generations_loaded active=2" "$(cat "$T/b.log")"
expect_contains "dev-00002 enrolls through A" "ok=1 failed=0" "$(sim enroll "$PORT_A" dev-00002)"
expect_contains "dev-00003 enrolls through B" "ok=1 failed=0" "$(sim enroll "$PORT_B" dev-00003)"
for dev in dev-00002 dev-00003; do
  check "$dev's certificate verifies under generation 2's root (the token's new key)" \
    openssl verify -CAfile "$GEN2" "$T/fleet/devices/$dev/operational.crt"
done
expect_eq "both recorded as generation 2" "2 2" \
  "$(pgsql "SELECT ca_gen FROM certificates WHERE device_id IN ('dev-00002','dev-00003') ORDER BY device_id" | paste -sd' ')"
out=$("$PROVISIOND" audit checkpoint "${ADMIN[@]}" --out "$T/cp" 2>&1)
expect_contains "a checkpoint on the shared store is signed by generation 2's token key" \
  "signed by CA generation 2" "$out"
out=$("$PROVISIOND" audit verify --state-dir "$T/state-b" "${STORE[@]}" --from-checkpoint "$T/cp" 2>&1) || true
expect_contains "and verifies from B's state dir" "signed by CA generation 2" "$out"

check "ca retire" "$PROVISIOND" ca retire "${ADMIN[@]}"
hup_both
for port in "$PORT_A" "$PORT_B"; do
  out=$(sim reenroll "$port" dev-00001 || true)
  expect_contains "dev-00001 (generation 1) refused at $port's handshake" "unknown_ca" "$out"
done
expect_contains "dev-00003 renews through A under generation 2" "ok=1 failed=0" \
  "$(sim reenroll "$PORT_A" dev-00003)"
stop_b
finish
