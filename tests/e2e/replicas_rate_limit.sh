#!/usr/bin/env bash
# The rate limits across replicas: each replica keeps its own token buckets (in memory, like the
# single node's), so a device whose requests are spread over N replicas is admitted up to N times
# its limit (the stated over-admission bound, docs/shared-store.md), and never more. Two replicas
# with --rate-limit-device 2/1h: six requests to each admit exactly two on each, four in all; the
# rest get 429 with Retry-After. (What is single-use stays exact: one certificate per bootstrap
# certificate is decided in the database, replicas_race.sh.)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/service_lib.sh"
. "$(dirname "$0")/pg_lib.sh"

pg_init p1
pg_start p1
pg_create_store p1
init_state
make_openssl_ca factory
make_openssl_device factory dev-rate
make_csr dev-rate "$T/rate"
REPLICA_ARGS=(--store "$(pg_url p1)" --trust "$T/factory.crt" --rate-limit-device 2/1h
              --rate-limit-address off)
start_replicas 2

# post PORT: an EST simpleenroll from 127.0.0.2 (no PROXY header expected from it) with dev-rate's
# bootstrap certificate and one key; prints the HTTP status, the headers in $T/hdr.
post() {
  curl -sS --interface 127.0.0.2 --resolve "localhost:$1:127.0.0.1" --cacert "$CA" \
    --cert "$T/dev-rate.crt" --key "$T/dev-rate.key" -D "$T/hdr" -o /dev/null -w '%{http_code}' \
    --max-time 20 -H 'Content-Type: application/pkcs10' --data-binary @"$T/rate.b64" \
    "https://localhost:$1/.well-known/est/simpleenroll" || true
}

admitted_total=0
for i in 0 1; do
  codes=""
  for _ in 1 2 3 4 5 6; do codes+="$(post "${REPLICA_PORTS[$i]}") "; done
  echo "replica $i answered: $codes"
  admitted=$(tr ' ' '\n' <<<"$codes" | grep -c '^200$' || true)
  limited=$(tr ' ' '\n' <<<"$codes" | grep -c '^429$' || true)
  expect_eq "replica $i admits the device's limit (2 of 6: the first, then its same-key retry)" 2 \
    "$admitted"
  expect_eq "replica $i answers the other 4 with 429" 4 "$limited"
  admitted_total=$((admitted_total + admitted))
done
expect_contains "a 429 carries Retry-After" "Retry-After:" "$(cat "$T/hdr")"
expect_eq "admitted over both replicas: N x the limit (the stated bound), not more" 4 "$admitted_total"
expect_eq "and still one certificate: single use is exact in the database" 1 \
  "$(pgq p1 -c "SELECT count(*) FROM certificates WHERE device_id = 'dev-rate'")"
expect_eq "every 429 recorded in the shared events table" 8 \
  "$(pgq p1 -c "SELECT count(*) FROM enrollment_events WHERE http_status = 429")"
finish_replicas
