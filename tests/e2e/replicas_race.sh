#!/usr/bin/env bash
# Races across three replicas on one PostgreSQL: 100 clients with ONE bootstrap certificate and 100
# keys, spread over the three replica ports (and HAProxy), get exactly one certificate (the others
# the single node's 403), and retries with the winning key on every replica get that certificate;
# 60 clients racing with one bootstrap certificate and ONE key all get one and the same
# certificate. A certificate revoked by `provisiond revoke --store` is refused at the very next
# handshake on every replica, and CRL numbers from concurrent `provisiond crl --store` processes
# are all different and increasing. Clients connect from 127.0.0.2 (the replicas expect a PROXY
# header only from 127.0.0.1, HAProxy's address).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/service_lib.sh"
. "$(dirname "$0")/pg_lib.sh"

pg_init p1
pg_start p1
pg_create_store p1
STORE=$(pg_url p1)
init_state
make_openssl_ca factory
for d in dev-race dev-same dev-rv; do make_openssl_device factory "$d"; done
# The single node's race (lifecycle_policy.sh) runs with this device limit too: the rate limiter
# is per replica, and the default 20/1h would answer some racers 429 before the policy's 403.
REPLICA_ARGS=(--store "$STORE" --trust "$T/factory.crt" --rate-limit-device 200/1h)
start_replicas 3
start_haproxy
PORTS=("${REPLICA_PORTS[@]}" "$HPORT")

export -f post
export T CA

# -- 100 keys, one bootstrap certificate -----------------------------------------------------------
mkdir -p "$T/race"
for i in $(seq 0 99); do make_csr dev-race "$T/race/$i"; done
seq 0 99 | PORT_LIST="${PORTS[*]}" xargs -P 100 -I{} bash -c \
  'p=($PORT_LIST); echo "{} $(post "${p[$(({} % 4))]}" "$T/dev-race" "$T/race/{}.b64" "$T/race/{}.out")"' \
  >"$T/race.codes"
expect_eq "100 racing clients answered" 100 "$(wc -l <"$T/race.codes")"
expect_eq "exactly one 200" 1 "$(awk '$2 == 200' "$T/race.codes" | wc -l)"
expect_eq "the 99 others got the single node's 403" 99 "$(awk '$2 == 403' "$T/race.codes" | wc -l)"
expect_eq "exactly one certificate row for dev-race" 1 \
  "$(pgq p1 -c "SELECT count(*) FROM certificates WHERE device_id = 'dev-race'")"
expect_eq "and no pending intent left" 0 \
  "$(pgq p1 -c "SELECT count(*) FROM issuance_intents WHERE device_id = 'dev-race' AND status = 'pending'")"
for i in 0 1 2; do
  check "replica $i answered some of the race" grep -q 'device_id=dev-race' "$T/replica-$i.log"
done
win=$(awk '$2 == 200 {print $1}' "$T/race.codes")
if [ -n "$win" ]; then
  serial=$(serial_of "$T/race/$win.out")
  expect_eq "the winner's serial is the row's" "$serial" \
    "$(pgq p1 -c "SELECT serial FROM certificates WHERE device_id = 'dev-race'")"
  for i in 0 1 2; do
    code=$(post "${REPLICA_PORTS[$i]}" "$T/dev-race" "$T/race/$win.b64" "$T/retry$i.out")
    expect_eq "same-key retry on replica $i: 200" 200 "$code"
    check "... with the very same certificate (DER)" cmp -s "$T/race/$win.out" "$T/retry$i.out"
  done
fi

# -- one key, one bootstrap certificate, 60 clients at once ----------------------------------------
make_csr dev-same "$T/same"
seq 0 59 | PORT_LIST="${PORTS[*]}" xargs -P 60 -I{} bash -c \
  'p=($PORT_LIST); echo "{} $(post "${p[$(({} % 4))]}" "$T/dev-same" "$T/same.b64" "$T/race/same{}.out")"' \
  >"$T/same.codes"
expect_eq "60 same-key clients: all 200" 60 "$(awk '$2 == 200' "$T/same.codes" | wc -l)"
expect_eq "... all with one and the same certificate" 1 \
  "$(for f in "$T"/race/same*.out; do sha256sum <"$f"; done | sort -u | wc -l)"
expect_eq "one certificate row for dev-same" 1 \
  "$(pgq p1 -c "SELECT count(*) FROM certificates WHERE device_id = 'dev-same'")"

# -- revocation: refused at the next handshake on every replica ------------------------------------
make_csr dev-rv "$T/rv"
expect_eq "dev-rv enrolls on replica 0" 200 \
  "$(post "${REPLICA_PORTS[0]}" "$T/dev-rv" "$T/rv.b64" "$T/rv.out")"
tr -d '\r' <"$T/rv.out" | base64 -d | openssl pkcs7 -inform DER -print_certs 2>/dev/null >"$T/dev-rv-op.crt"
cp "$T/rv.key" "$T/dev-rv-op.key"
rv_serial=$(serial_of "$T/rv.out")
for i in 0 1 2; do make_csr dev-rv "$T/rv-renew$i"; done
# Before: the operational certificate is accepted everywhere (cacerts over its mTLS handshake).
for i in 0 1 2; do
  code=$(curl -sS --interface 127.0.0.2 --resolve "localhost:${REPLICA_PORTS[$i]}:127.0.0.1" \
    --cacert "$CA" --cert "$T/dev-rv-op.crt" --key "$T/dev-rv-op.key" -o /dev/null -w '%{http_code}' \
    "https://localhost:${REPLICA_PORTS[$i]}/.well-known/est/cacerts" 2>/dev/null || true)
  expect_eq "before the revocation replica $i accepts dev-rv's certificate" 200 "$code"
done
"$PROVISIOND" revoke --store "$STORE" --serial "$rv_serial" --reason keyCompromise >/dev/null ||
  fail "revoke --store"
pids=()
for i in 0 1 2; do
  post "${REPLICA_PORTS[$i]}" "$T/dev-rv-op" "$T/rv-renew$i.b64" "$T/rv-renew$i.out" simplereenroll \
    >"$T/rv-renew$i.code" &
  pids+=($!)
done
wait "${pids[@]}"
for i in 0 1 2; do
  expect_eq "right after the revoke, renewing on replica $i gets no HTTP answer" 000 \
    "$(cat "$T/rv-renew$i.code")"
  check "... but the certificate_revoked alert" grep -qi 'certificate revoked' "$T/rv-renew$i.out.err"
  check "... logged by replica $i" \
    grep -q 'operational certificate revoked" alert=certificate_revoked(44)' \
    "$T/replica-$i.log"
done
expect_eq "no certificate renewed dev-rv" 1 \
  "$(pgq p1 -c "SELECT count(*) FROM certificates WHERE device_id = 'dev-rv'")"

# -- CRL numbers from concurrent processes --------------------------------------------------------
pids=()
for i in $(seq 1 8); do
  "$PROVISIOND" crl --store "$STORE" --state-dir "$T/state" --out "$T/crl$i.der" \
    >/dev/null 2>"$T/crl$i.err" &
  pids+=($!)
done
wait "${pids[@]}" || fail "a concurrent crl --store failed: $(cat "$T"/crl*.err)"
for i in $(seq 1 8); do
  openssl crl -inform DER -in "$T/crl$i.der" -noout -crlnumber 2>/dev/null | cut -d= -f2
done >"$T/crl.numbers"
expect_eq "8 concurrent crl --store runs made 8 CRLs" 8 "$(grep -c . "$T/crl.numbers")"
expect_eq "... with 8 different numbers" 8 "$(sort -u "$T/crl.numbers" | wc -l)"
"$PROVISIOND" crl --store "$STORE" --state-dir "$T/state" --out "$T/crl-next.der" >/dev/null
next=$(openssl crl -inform DER -in "$T/crl-next.der" -noout -crlnumber | cut -d= -f2)
check "the next CRL's number ($next) is above all of them" \
  python3 -c 'import sys; n = [int(x, 16) for x in open(sys.argv[1]).read().split()]
sys.exit(not (n and int(sys.argv[2], 16) > max(n)))' \
  "$T/crl.numbers" "$next"
check "the CRL lists the revoked serial" bash -c \
  "openssl crl -inform DER -in '$T/crl-next.der' -noout -text | grep -qi '$rv_serial'"
out=$("$PROVISIOND" audit verify --store "$STORE" 2>&1) || fail "audit verify --store: $out"
expect_contains "audit verify --store" "audit chain ok" "$out"

finish_replicas
