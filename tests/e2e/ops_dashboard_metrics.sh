#!/usr/bin/env bash
# ops_dashboard_metrics.sh — every PromQL expression of the shipped Grafana dashboard
# (docs/ops/provisiond-dashboard.json) reads only metrics a running daemon exports (a real
# /metrics scrape after an enrollment and a handshake failure), and the dashboard covers
# enrollments, latency, handshake failures, connections, the writer queue and certificate expiry.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/service_lib.sh"

DASH="$(dirname "$0")/../../docs/ops/provisiond-dashboard.json"
init_state
"$DEVICE_SIM" factory --out "$T/fleet" --count 1 >/dev/null
"$DEVICE_SIM" factory --out "$T/fleet" --count 1 --prefix expired- --kind expired >/dev/null
start_daemon --trust "$T/fleet/factory-ca.crt" --metrics-listen 0
MPORT=$(sed -n 's/^<5>metrics_listening address=127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$T/daemon.log")
SIM=("$DEVICE_SIM" enroll --fleet "$T/fleet" --server "127.0.0.1:$PORT" --ca-bundle "$CA")
expect_contains "a device enrolls" "ok=1 failed=0" "$("${SIM[@]}" --devices dev-00001)"
"${SIM[@]}" --devices expired-00001 >/dev/null 2>&1 || true  # a handshake failure

curl -sS "http://127.0.0.1:$MPORT/metrics" > "$T/metrics.txt"
grep -v '^#' "$T/metrics.txt" | sed 's/[{ ].*//' | sort -u > "$T/exported.txt"
check "the scrape has samples" test -s "$T/exported.txt"
python3 "$(dirname "$0")/dashboard_exprs.py" names "$DASH" > "$T/used.tsv"
check "the dashboard has queries" test -s "$T/used.tsv"
while IFS=$'\t' read -r panel name; do
  if grep -qxF -- "$name" "$T/exported.txt"; then
    pass "$panel: $name is exported"
  else
    fail "$panel: '$name' is not a metric the daemon exports"
  fi
done < "$T/used.tsv"
for want in provisiond_enrollments_total provisiond_enrollment_duration_seconds_bucket \
            provisiond_handshake_failures_total provisiond_connections_in_flight \
            provisiond_db_queue_depth provisiond_ca_certificate_not_after_seconds \
            provisiond_server_certificate_not_after_seconds; do
  check "a panel shows $want" grep -qP "\t$want\$" "$T/used.tsv"
done
finish
