#!/usr/bin/env bash
# CA rollover on PostgreSQL, end to end (#19 part 3, docs/rollover.md): two serve replicas, each
# with its own state dir (the same CA), share one PostgreSQL store. `ca rollover` on replica A's
# state dir; its ca-gen2/ is copied to replica B's; SIGHUP both (both serve the new /cacerts);
# `ca activate`; SIGHUP both: a device enrolled through each replica gets a generation-2
# certificate, and each replica's CRL for generation 2 is served; `ca retire`; SIGHUP both: the
# old generation is refused at both handshakes, and both present generation 2's server
# certificate. A replica without the generation's directory refuses the reload and keeps its
# configuration. `ca status --json` on the store counts holders and /cacerts fetches.
. "$(dirname "$0")/lib.sh"

PG_CLUSTER="$(dirname "$0")/../db/pg_cluster.sh"
PGSTATE="$T/pg"
B_PID=""
stop_b() {
  [ -n "$B_PID" ] || return 0
  kill -TERM "$B_PID" 2>/dev/null || true
  wait "$B_PID" 2>/dev/null || true
  B_PID=""
}
trap 'stop_b; [ -z "$B_PID" ] || kill -KILL "$B_PID" 2>/dev/null; bash "$PG_CLUSTER" stop "$PGSTATE" >/dev/null 2>&1 || true; cleanup' EXIT
bash "$PG_CLUSTER" start "$PGSTATE" --tcp
if [ ! -s "$PGSTATE/conninfo" ]; then
  echo "FAIL: no PostgreSQL cluster: $(cat "$PGSTATE/error" 2>/dev/null)" >&2
  exit 1
fi
ADMINPG=$(cat "$PGSTATE/conninfo")
PGP=$(cat "$PGSTATE/port")
psql -X "$ADMINPG" -qAtc "CREATE ROLE app LOGIN PASSWORD 'Pw-roll-7q'"
psql -X "$ADMINPG" -qAtc "CREATE DATABASE provisiond OWNER app"
printf 'Pw-roll-7q\n' >"$T/pw"
chmod 0600 "$T/pw"
STORE=(--store "postgresql://app@127.0.0.1:$PGP/provisiond" --store-password-file "$T/pw")
"$PROVISIOND" migrate "${STORE[@]}" >/dev/null
pgsql() { psql -X "$ADMINPG dbname=provisiond" -qAtc "$1"; }

init_state
cp -a "$T/state" "$T/state-b"
"$DEVICE_SIM" factory --out "$T/fleet" --count 4 >/dev/null
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
CPORT_A=$(free_port)
CPORT_B=$(free_port)
start_daemon "${STORE[@]}" --trust "$T/fleet/factory-ca.crt" --crl-listen "127.0.0.1:$CPORT_A"
PORT_A=$PORT
"$PROVISIOND" serve --state-dir "$T/state-b" --listen 127.0.0.1:0 --workers 1 "${STORE[@]}" \
  --trust "$T/fleet/factory-ca.crt" --crl-listen "127.0.0.1:$CPORT_B" 2>>"$T/b.log" &
B_PID=$!
for _ in $(seq 1 100); do
  PORT_B=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/b.log")
  [ -n "$PORT_B" ] && break
  sleep 0.1
done
[ -n "$PORT_B" ] || { cat "$T/b.log" >&2; fail "replica B did not start"; finish; }
ADMIN=(--state-dir "$T/state" "${STORE[@]}")
GEN1="$CA"
GEN2="$T/state/ca-gen2/ca.crt"
cat "$GEN1" > "$T/bundle.pem"
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
cacerts_count() {
  local dev="$T/fleet/devices/dev-00004"
  curl -sS --fail --cacert "$T/bundle.pem" --cert "$dev/bootstrap.crt" --key "$dev/bootstrap.key" \
    "https://localhost:$1/.well-known/est/cacerts" | base64 -di |
    openssl pkcs7 -inform DER -print_certs | grep -c '^-----BEGIN CERTIFICATE'
}

expect_contains "dev-00001 enrolls through A" "ok=1 failed=0" "$(sim enroll "$PORT_A" dev-00001)"
expect_contains "dev-00002 enrolls through B" "ok=1 failed=0" "$(sim enroll "$PORT_B" dev-00002)"
check "ca rollover (on A's state dir, the shared store)" "$PROVISIOND" ca rollover "${ADMIN[@]}"
# B has no ca-gen2 yet: a pending generation needs no key, so its reload goes through.
hup_both
expect_eq "A's cacerts: CA, new CA, both links" 4 "$(cacerts_count "$PORT_A")"
expect_eq "B's cacerts: the same" 4 "$(cacerts_count "$PORT_B")"
cat "$GEN2" >> "$T/bundle.pem"  # the devices follow the rollover (ca_rollover.sh tests how)
check "ca activate" "$PROVISIOND" ca activate "${ADMIN[@]}"
hup_both
expect_contains "B without generation 2's directory refuses the reload" "reload_refused" "$(cat "$T/b.log")"
cp -a "$T/state/ca-gen2" "$T/state-b/ca-gen2"
hup_both
expect_contains "A issues from generation 2" "ca_generations_loaded active=2" "$(cat "$T/daemon.log")"
expect_contains "B too, once it has the directory" "ca_generations_loaded active=2" "$(cat "$T/b.log")"
expect_contains "dev-00003 enrolls through A" "ok=1 failed=0" "$(sim enroll "$PORT_A" dev-00003)"
expect_contains "dev-00004 enrolls through B" "ok=1 failed=0" "$(sim enroll "$PORT_B" dev-00004)"
for dev in dev-00003 dev-00004; do
  check "$dev's certificate is generation 2's" \
    openssl verify -CAfile "$GEN2" "$T/fleet/devices/$dev/operational.crt"
done
expect_eq "both recorded as generation 2" "2 2" \
  "$(pgsql "SELECT ca_gen FROM certificates WHERE device_id IN ('dev-00003','dev-00004') ORDER BY device_id" | paste -sd' ')"
expect_contains "dev-00001 (generation 1) renews through B into generation 2" "ok=1 failed=0" \
  "$(sim reenroll "$PORT_B" dev-00001)"
check "its new certificate is generation 2's" \
  openssl verify -CAfile "$GEN2" "$T/fleet/devices/dev-00001/operational.crt"
# ca status reads the shared store: dev-00001's renewal fetched /cacerts through B with its
# operational certificate (recorded once, for generation 2); the enrollments' fetches with a
# bootstrap certificate are not counted; the old certificates of dev-00001 and dev-00002 still hold
# generation 1.
status=$("$PROVISIOND" ca status "${STORE[@]}" --json)
expect_eq "ca status on PostgreSQL: 4 active devices" 4 "$(jq .active_devices <<<"$status")"
expect_eq "... gen 2 active, held by 3, fetched by 1" "2 active 3 1" \
  "$(jq -r '.generations[1] | "\(.gen) \(.state) \(.devices_holding) \(.devices_fetched_cacerts)"' <<<"$status")"
expect_eq "... gen 1 previous, held by 2, fetched by none" "1 previous 2 0" \
  "$(jq -r '.generations[0] | "\(.gen) \(.state) \(.devices_holding) \(.devices_fetched_cacerts)"' <<<"$status")"
expect_eq "... the fetch row itself" "2|dev-00001" "$(pgsql "SELECT ca_gen, device_id FROM cacerts_fetches")"
for p in "$CPORT_A" "$CPORT_B"; do
  curl -sS --fail --max-time 5 -o "$T/crl-$p.der" "http://127.0.0.1:$p/crl-gen2" || true
  check "generation 2's CRL on port $p verifies under its root" bash -c \
    "openssl crl -inform DER -in '$T/crl-$p.der' -CAfile '$GEN2' -noout 2>&1 | grep -q 'verify OK'"
done

check "ca retire" "$PROVISIOND" ca retire "${ADMIN[@]}"
hup_both
expect_eq "both present generation 2's server certificate" "1 1" \
  "$(count "$T/daemon.log" server_cert_gen=2) $(count "$T/b.log" server_cert_gen=2)"
cat "$GEN2" > "$T/bundle.pem"  # devices holding only the new root reach both replicas (mbedTLS)
for port in "$PORT_A" "$PORT_B"; do
  expect_contains "dev-00003 renews through $port holding only the new root" "ok=1 failed=0" \
    "$(sim reenroll "$port" dev-00003)"
  out=$(sim reenroll "$port" dev-00002 || true)
  expect_contains "dev-00002 (generation 1) refused at $port's handshake" "unknown_ca" "$out"
done
check "audit verify" "$PROVISIOND" audit verify "${STORE[@]}"
stop_b
finish
