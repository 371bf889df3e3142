#!/usr/bin/env bash
# 80_flood.sh — section 7: 10,000 connections as fast as they open against --max-connections
# 1000, then fresh devices enrolled on the same daemon -> flood.tsv and the recovery run's
# enroll.tsv row.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/../lib.sh"
say "flood: 10000 connections at --max-connections 1000"
start_daemon flood --max-connections 1000
sleep 0.5
python3 "$ROOT/bench/hold_connections.py" flood --port "${DADDR##*:}" --count 10000 --pid "$DPID" \
  --hold 3 > "$W/flood.json"
sleep 1
say "recovery enroll c=64 ($NREC)"
enroll rec rec 64
stop_daemon
COLUMNS_=(requested refused_by_server held_open connect_errors refusal_seconds_p50
  refusal_seconds_p99 seconds rss_before_kib rss_peak_kib rss_after_kib)
tsv_new "$W/flood.tsv" "${COLUMNS_[@]}" connection_refused_log_lines
row=()
for c in "${COLUMNS_[@]}"; do  # numbers as they are; connect_errors as compact JSON
  row+=("$(jq -r ".$c | if type == \"object\" then tojson else . end" "$W/flood.json")")
done
tsv_row "$W/flood.tsv" "${row[@]}" "$(grep -c 'connection_refused' "$W/flood.log" || true)"
