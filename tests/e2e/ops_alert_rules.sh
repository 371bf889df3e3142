#!/usr/bin/env bash
# ops_alert_rules.sh — the shipped Prometheus alerting rules (docs/ops/provisiond-alerts.yml):
# `promtool check rules` is clean, and `promtool test rules` (ops_alerts_test.yml) shows each
# alert firing on the series that should page and quiet on a healthy daemon's.
. "$(dirname "$0")/lib.sh"

if ! command -v promtool >/dev/null; then
  echo "SKIP: promtool not installed (Debian package prometheus; scripts/install-deps.sh)" >&2
  exit 77
fi
RULES="$(dirname "$0")/../../docs/ops/provisiond-alerts.yml"
check "promtool check rules" promtool check rules "$RULES"
out=$(promtool check rules "$RULES" 2>&1 || true)
expect_contains "every rule parsed" "SUCCESS: 12 rules found" "$out"
check "promtool test rules (each alert fires when it should, not before)" \
  promtool test rules "$(dirname "$0")/ops_alerts_test.yml"
finish
