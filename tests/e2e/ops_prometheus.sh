#!/usr/bin/env bash
# ops_prometheus.sh — the operator's kit against a running daemon: `promtool check metrics` is
# clean on a real /metrics scrape; the certificate-expiry, readiness and queue-bound gauges say
# what the files and flags say; Debian's prometheus (loopback, temp dir, 1 s scrapes, the shipped
# alerting rules) scrapes the daemon, and an enrollment counter comes back through its HTTP API,
# as does every query of the Grafana dashboard. Bounded: ~60 s at most.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/service_lib.sh"

if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then
  echo "SKIP: prometheus/promtool not installed (Debian package prometheus; scripts/install-deps.sh)" >&2
  exit 77
fi
OPS="$(dirname "$0")/../../docs/ops"
PROM_PID=""
ops_cleanup() {
  if [ -n "$PROM_PID" ]; then kill "$PROM_PID" 2>/dev/null || true; wait "$PROM_PID" 2>/dev/null || true; fi
  service_cleanup
}
trap ops_cleanup EXIT
wait_for_url() {  # wait_for_url URL SECONDS: true once it answers 200
  for _ in $(seq 1 $(( $2 * 10 ))); do
    curl -sf -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

init_state --server-days 40
cp "$T/state/server.crt" "$T/state-server.crt"; cp "$T/state/server.key" "$T/state-server.key"
"$DEVICE_SIM" factory --out "$T/fleet" --count 3 >/dev/null
start_daemon --trust "$T/fleet/factory-ca.crt" --metrics-listen 0 --max-pending-writes 300
MPORT=$(sed -n 's/^<5>metrics_listening address=127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$T/daemon.log")
METRICS_URL="http://127.0.0.1:$MPORT"

curl -sS "$METRICS_URL/metrics" > "$T/metrics.txt"
lint=$(promtool check metrics < "$T/metrics.txt" 2>&1) && rc=0 || rc=$?
expect_eq "promtool check metrics: clean (exit 0, no findings)" "0:" "$rc:$lint"
not_after() { date -u -d "$(openssl x509 -noout -enddate -in "$1" | cut -d= -f2)" +%s; }
expect_eq "CA notAfter exported" "$(not_after "$T/state/ca.crt")" \
  "$(metric provisiond_ca_certificate_not_after_seconds)"
expect_eq "server certificate notAfter exported" "$(not_after "$T/state/server.crt")" \
  "$(metric provisiond_server_certificate_not_after_seconds)"
expect_eq "ready" 1 "$(metric provisiond_ready)"
expect_eq "writer queue bound = --max-pending-writes" 300 "$(metric provisiond_db_queue_limit)"
# A new server certificate (same CA, 10 days) put in place and reloaded shows at once.
"$PROVISIOND" init --state-dir "$T/next" --ca-cert "$T/state/ca.crt" --ca-key "$T/state/ca.key" \
  --server-days 10 >/dev/null
cp "$T/next/server.crt" "$T/next/server.key" "$T/state/"
kill -HUP "$DAEMON_PID"
check "reloaded" wait_for_line "$T/daemon.log" '^<5>reloaded ' 10
expect_eq "server certificate notAfter after the reload" "$(not_after "$T/next/server.crt")" \
  "$(metric provisiond_server_certificate_not_after_seconds)"
# Back to the 40-day certificate, so that no expiry alert is due below.
cp "$T/state-server.crt" "$T/state/server.crt"; cp "$T/state-server.key" "$T/state/server.key"
kill -HUP "$DAEMON_PID"
reloads() { grep -c '^<5>reloaded ' "$T/daemon.log" || true; }
for _ in $(seq 1 100); do [ "$(reloads)" -ge 2 ] && break; sleep 0.1; done
expect_eq "reloaded again" 2 "$(reloads)"

PPORT=$(free_port)
cat > "$T/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $(cd "$OPS" && pwd)/provisiond-alerts.yml
scrape_configs:
  - job_name: provisiond
    static_configs:
      - targets: ["127.0.0.1:$MPORT"]
YML
prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/tsdb" \
  --web.listen-address="127.0.0.1:$PPORT" --log.level=warn 2>"$T/prometheus.log" &
PROM_PID=$!
API="http://127.0.0.1:$PPORT/api/v1"
check "prometheus ready" wait_for_url "http://127.0.0.1:$PPORT/-/ready" 20

SIM=("$DEVICE_SIM" enroll --fleet "$T/fleet" --server "127.0.0.1:$PORT" --ca-bundle "$CA")
expect_contains "3 devices enroll" "ok=3 failed=0" "$("${SIM[@]}" --devices dev-00001,dev-00002,dev-00003)"

# query EXPR: the first sample's value ("" if none).
query() {
  curl -sS -G "$API/query" --data-urlencode "query=$1" |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")'
}
got=""
for _ in $(seq 1 150); do
  got=$(query 'provisiond_enrollments_total{job="provisiond",outcome="issued"}')
  [ "$got" = 3 ] && break
  sleep 0.2
done
expect_eq "issued enrollments read back through Prometheus" 3 "$got"
expect_eq "target up" 1 "$(query 'up{job="provisiond"}')"
rules=$(curl -sS "$API/rules" | python3 -c '
import json, sys
groups = json.load(sys.stdin)["data"]["groups"]
print(sum(len(g["rules"]) for g in groups), sum(r["health"] == "ok" for g in groups for r in g["rules"]))')
expect_eq "the shipped rules loaded (12 rules, 12 evaluated ok)" "12 12" "$rules"
firing=$(curl -sS "$API/alerts" | python3 -c '
import json, sys
print(" ".join(a["labels"]["alertname"] for a in json.load(sys.stdin)["data"]["alerts"]))')
expect_eq "a healthy daemon raises no alert (a 40-day server certificate is not yet <30 d)" "" "$firing"

# Every query of the dashboard runs in Prometheus without error.
while IFS=$'\t' read -r panel expr; do
  status=$(curl -sS -G "$API/query" --data-urlencode "query=$expr" |
           python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')
  expect_eq "dashboard query runs: $panel" success "$status"
done < <(python3 "$(dirname "$0")/dashboard_exprs.py" exprs "$OPS/provisiond-dashboard.json")
[ "$FAILURES" -eq 0 ] || sed 's/^/  prometheus: /' "$T/prometheus.log" >&2
finish
