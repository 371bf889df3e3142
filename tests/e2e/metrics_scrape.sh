#!/usr/bin/env bash
# metrics_scrape.sh — the optional plain-HTTP listener: off by default; a bare port binds
# loopback; /metrics in the Prometheus text format counts enrollments by outcome, handshake
# failures by alert, connections, the enrollment latency and the database commit latency;
# /healthz; other paths and methods refused; a silent or oversized client cannot wedge it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/service_lib.sh"

init_state
"$DEVICE_SIM" factory --out "$T/fleet" --count 5 >/dev/null
"$DEVICE_SIM" factory --out "$T/fleet" --count 1 --prefix expired- --kind expired >/dev/null
start_daemon --trust "$T/fleet/factory-ca.crt"
expect_eq "off by default" "" "$(grep 'metrics_listening' "$T/daemon.log" || true)"
stop_daemon

start_daemon --trust "$T/fleet/factory-ca.crt" --metrics-listen 0
MPORT=$(sed -n 's/^<5>metrics_listening address=127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$T/daemon.log")
check "a bare port listens on loopback ($MPORT)" test -n "$MPORT"
METRICS_URL="http://127.0.0.1:$MPORT"

SIM=("$DEVICE_SIM" enroll --fleet "$T/fleet" --server "127.0.0.1:$PORT" --ca-bundle "$CA")
expect_contains "4 devices enroll" "ok=4 failed=0" \
  "$("${SIM[@]}" --devices dev-00001,dev-00002,dev-00003,dev-00004)"
"${SIM[@]}" --devices dev-00001 >/dev/null 2>&1 || true   # a second key: bootstrap_exhausted
"${SIM[@]}" --devices expired-00001 >/dev/null 2>&1 || true  # certificate_expired at TLS

headers=$(curl -sS -D - -o "$T/metrics.txt" "$METRICS_URL/metrics")
expect_contains "content type of the text format" \
  "Content-Type: text/plain; version=0.0.4; charset=utf-8" "$headers"
expect_eq "issued" 4 "$(metric 'provisiond_enrollments_total{outcome="issued"}')"
expect_eq "refused by outcome" 1 "$(metric 'provisiond_enrollments_total{outcome="bootstrap_exhausted"}')"
expect_eq "handshake failures by alert" 1 \
  "$(metric 'provisiond_handshake_failures_total{alert="certificate_expired"}')"
expect_eq "enrollment latency observations" 5 "$(metric provisiond_enrollment_duration_seconds_count)"
expect_eq "latency +Inf bucket = count" 5 \
  "$(metric 'provisiond_enrollment_duration_seconds_bucket{le="+Inf"}')"
commits=$(metric provisiond_db_commit_duration_seconds_count)
check "database commits measured ($commits)" test "${commits:-0}" -ge 1
accepted=$(metric 'provisiond_connections_total{event="accepted"}')
check "connections accepted ($accepted)" test "${accepted:-0}" -ge 6
expect_eq "nothing in flight now" 0 "$(metric provisiond_connections_in_flight)"

# Well-formed: every sample line is NAME[{label="value"}] NUMBER; every family has HELP and
# TYPE; histogram buckets never decrease.
bad=$(grep -v '^#' "$T/metrics.txt" | grep -vE '^[a-z_]+(\{[a-z_]+="[^"]*"\})? [0-9.e+-]+$' || true)
expect_eq "every sample line parses" "" "$bad"
for fam in $(grep '^# TYPE ' "$T/metrics.txt" | awk '{print $3}'); do
  check "HELP for $fam" grep -q "^# HELP $fam " "$T/metrics.txt"
done
check "histogram buckets are cumulative" awk '
  /_bucket\{/ { split($1, a, "_bucket"); if (a[1] == prev && $2 + 0 < last) exit 1; prev = a[1]; last = $2 + 0 }' \
  "$T/metrics.txt"

expect_eq "/healthz" "200 ok" "$(curl -sS -w '%{http_code}' -o "$T/h" "$METRICS_URL/healthz") $(cat "$T/h")"
expect_eq "other paths: 404" 404 "$(curl -sS -o /dev/null -w '%{http_code}' "$METRICS_URL/")"
expect_eq "other methods: 405" 405 "$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$METRICS_URL/metrics")"
expect_eq "oversized request: 431" 431 \
  "$(curl -sS -o /dev/null -w '%{http_code}' -H "X-Big: $(head -c 3000 /dev/zero | tr '\0' a)" "$METRICS_URL/metrics")"

# A client that connects and says nothing holds the single thread for at most 2 s.
exec 5<>"/dev/tcp/127.0.0.1/$MPORT"
start=$(date +%s%N)
code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 6 "$METRICS_URL/healthz" || true)
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
exec 5>&-
expect_eq "scrape served despite a silent client" 200 "$code"
check "silent client dropped at its 2 s deadline (${elapsed_ms} ms)" test "$elapsed_ms" -lt 3500

finish
