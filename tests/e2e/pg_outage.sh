#!/usr/bin/env bash
# PostgreSQL stopped under a running provisiond (--store, tests/db/pg_cluster.sh halt/resume):
# while it is away devices get 503 + Retry-After within the request timeout and nothing is
# issued, /healthz answers 503 "store unavailable: ..." and provisiond_store_up is 0; once it is
# back, /healthz is 200 again within the reconnect back-off, enrollments succeed. The same when
# the server turns read-only (a demoted primary: ALTER SYSTEM default_transaction_read_only).
# Then `audit verify` passes and every certificate a device received has its row.
. "$(dirname "$0")/lib.sh"

PG_CLUSTER="$(dirname "$0")/../db/pg_cluster.sh"
PGSTATE="$T/pg"
trap 'bash "$PG_CLUSTER" stop "$PGSTATE" >/dev/null 2>&1 || true; cleanup' EXIT
bash "$PG_CLUSTER" start "$PGSTATE"
ADMIN=$(cat "$PGSTATE/conninfo")
SOCKET_DIR=$(sed -n 's/^host=\([^ ]*\) .*/\1/p' <<<"$ADMIN")
psql -X "$ADMIN" -qAtc "CREATE DATABASE provisiond"
pg() { psql -X "$ADMIN dbname=provisiond" -qAt "$@"; }
STORE=(--store "postgresql://postgres@/provisiond?host=$SOCKET_DIR")
check "migrate" "$PROVISIOND" migrate "${STORE[@]}"

make_openssl_ca factory
init_state
"$DEVICE_SIM" factory --out "$T/fleet" --count 40 >/dev/null
make_openssl_device factory dev-curl
make_csr dev-curl "$T/dev-curl-csr"
start_daemon --trust "$T/fleet/factory-ca.crt" --trust "$T/factory.crt" "${STORE[@]}" \
  --metrics-listen 0
MPORT=$(sed -n 's/^<5>metrics_listening address=127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$T/daemon.log")
[ -n "$MPORT" ] || { fail "no metrics listener"; finish; }
healthz() { curl -s -o "$T/healthz.body" -w '%{http_code}' "http://127.0.0.1:$MPORT/healthz"; }
metric() { curl -s "http://127.0.0.1:$MPORT/metrics" | sed -n "s/^$1 //p"; }
# wait_healthz STATUS SECONDS: polls until /healthz answers STATUS; prints the seconds it took.
wait_healthz() {
  local start=$SECONDS
  for _ in $(seq 1 $(($2 * 10))); do
    [ "$(healthz)" = "$1" ] && { echo $((SECONDS - start)); return 0; }
    sleep 0.1
  done
  echo never
}
devices() { seq -f 'dev-%05g' "$1" "$2" | paste -sd, -; }
SIM=("$DEVICE_SIM" --fleet "$T/fleet" --server "127.0.0.1:$PORT" --ca-bundle "$CA")

expect_eq "/healthz 200 with the store up" 200 "$(healthz)"
expect_eq "provisiond_store_up 1" 1 "$(metric provisiond_store_up)"
out=$("${SIM[0]}" enroll "${SIM[@]:1}" --devices "$(devices 1 10)")
expect_contains "10 devices enroll before the outage" "enroll: ok=10 failed=0" "$out"

# -- the server goes away ---------------------------------------------------------------------------
bash "$PG_CLUSTER" halt "$PGSTATE"
took=$(wait_healthz 503 5)
expect_eq "/healthz turns 503 without any device asking (store probe)" 1 \
  "$([ "$took" != never ] && echo 1 || echo 0)"
expect_contains "... with one line naming the store" "store unavailable: " "$(cat "$T/healthz.body")"
expect_eq "provisiond_store_up 0" 0 "$(metric provisiond_store_up)"
start=$(date +%s%N)
"${SIM[0]}" enroll "${SIM[@]:1}" --devices "$(devices 11 20)" --max-retries 0 --timeout 20 \
  --json "$T/outage.json" >"$T/outage.out" 2>&1 || true
ms=$((($(date +%s%N) - start) / 1000000))
expect_contains "10 devices refused while it is away" "enroll: ok=0 failed=10" "$(cat "$T/outage.out")"
n503=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
print(sum(1 for f in d["failures"] if f["outcome"].startswith("http 503")))' "$T/outage.json")
expect_eq "... each with 503 (device-sim's failures)" 10 "$n503"
max=$(python3 -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["all"]["latency_ms"]["max"]))' \
  "$T/outage.json")
pass "outage: 10 refusals in $ms ms, slowest $max ms"
[ "$max" -lt 10000 ] && pass "every answer came before the request timeout (10 s)" ||
  fail "an answer took $max ms"
# One request by hand: the headers.
code=$(curl -sS --cacert "$CA" --cert "$T/dev-curl.crt" --key "$T/dev-curl.key" -D "$T/h" \
  -o "$T/resp.body" -w '%{http_code}' -H 'Content-Type: application/pkcs10' \
  --data-binary @"$T/dev-curl-csr.b64" "$EST/simpleenroll" || true)
expect_eq "curl: 503" 503 "$code"
# --retry-after 30, jittered over [15, 45] (daemon/retry_after.h).
after=$(tr -d '\r' <"$T/h" | tr 'A-Z' 'a-z' | sed -n 's/^retry-after: //p')
expect_eq "... with Retry-After in [15, 45]" ok "$( ((after >= 15 && after <= 45)) && echo ok || echo "$after")"
expect_contains "... and the reason" "certificate store unavailable; retry later" \
  "$(cat "$T/resp.body")"
expect_contains "the journal names the outcome" "outcome=store_unavailable" "$(cat "$T/daemon.log")"
for i in $(seq 11 20); do
  [ ! -e "$T/fleet/devices/dev-$(printf %05d "$i")/operational.crt" ] ||
    fail "dev-$i got a certificate during the outage"
done

# -- the server is back ------------------------------------------------------------------------------
bash "$PG_CLUSTER" resume "$PGSTATE"
took=$(wait_healthz 200 15)
expect_eq "/healthz 200 again by itself" 1 "$([ "$took" != never ] && echo 1 || echo 0)"
pass "recovery: /healthz 200 ${took} s after the server was back"
expect_eq "provisiond_store_up 1" 1 "$(metric provisiond_store_up)"
reconnects=$(metric provisiond_store_reconnects_total)
[ "${reconnects:-0}" -ge 1 ] && pass "provisiond_store_reconnects_total=$reconnects" ||
  fail "no reconnect counted: $reconnects"
io=$(metric 'provisiond_store_errors_total{code="io"}')
[ "${io:-0}" -ge 10 ] && pass "provisiond_store_errors_total{code=\"io\"}=$io" || fail "io errors: $io"
out=$("${SIM[0]}" enroll "${SIM[@]:1}" --devices "$(devices 11 30)")
expect_contains "the refused devices and 10 more enroll after recovery" "enroll: ok=20 failed=0" \
  "$out"
expect_eq "curl: 200 after recovery" 200 \
  "$(enroll_curl "$T/dev-curl" "$T/dev-curl-csr.b64")"

# -- the server turns read-only ---------------------------------------------------------------------
read_only() {
  psql -X "$ADMIN" -qAtc "ALTER SYSTEM $1 default_transaction_read_only$2" \
    -c "SELECT pg_reload_conf()" >/dev/null
}
read_only SET " = on"
"${SIM[0]}" enroll "${SIM[@]:1}" --devices "$(devices 31 40)" --max-retries 0 --timeout 20 \
  --json "$T/ro.json" >"$T/ro.out" 2>&1 || true
expect_contains "10 devices refused while it is read-only" "enroll: ok=0 failed=10" \
  "$(cat "$T/ro.out")"
n503=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
print(sum(1 for f in d["failures"] if f["outcome"].startswith("http 503")))' "$T/ro.json")
expect_eq "... each with 503, never a 500" 10 "$n503"
took=$(wait_healthz 503 5)
expect_eq "/healthz 503 while read-only" 1 "$([ "$took" != never ] && echo 1 || echo 0)"
flaps=0
for _ in $(seq 1 15); do [ "$(healthz)" = 503 ] || flaps=$((flaps + 1)); sleep 0.2; done
expect_eq "... and it stays 503 (the probe's reads do not hide the refused writes)" 0 "$flaps"
expect_contains "... naming the cause" "read-only" "$(cat "$T/healthz.body")"
read_only RESET ""
took=$(wait_healthz 200 15)
expect_eq "/healthz 200 once writable" 1 "$([ "$took" != never ] && echo 1 || echo 0)"
out=$("${SIM[0]}" enroll "${SIM[@]:1}" --devices "$(devices 31 40)")
expect_contains "they enroll once it is writable again" "enroll: ok=10 failed=0" "$out"
stop_daemon

out=$("$PROVISIOND" audit verify "${STORE[@]}")
expect_contains "audit verify passes" "audit chain ok" "$out"
# Every certificate a device holds has its row, and there is no other.
held=0
for crt in "$T"/fleet/devices/*/operational.crt; do
  serial=$(openssl x509 -in "$crt" -noout -serial | sed 's/^serial=//' | tr 'A-F' 'a-f')
  held=$((held + 1))
  [ "$(pg -c "SELECT count(*) FROM certificates WHERE lower(serial) = '$serial'")" = 1 ] ||
    fail "$crt: serial $serial has no row"
done
expect_eq "40 devices hold a certificate" 40 "$held"
expect_eq "41 rows (40 devices and curl's)" 41 "$(pg -c "SELECT count(*) FROM certificates")"
expect_eq "no pending intent left" 0 \
  "$(pg -c "SELECT count(*) FROM issuance_intents WHERE status = 'pending'")"
finish
