#!/usr/bin/env bash
# 70_hold.sh — section 6: 10,000 held connections against a fresh daemon each, first sending 43
# bytes of a ClientHello, then nothing -> hold.tsv (bench/hold_connections.py's figures).
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/../lib.sh"
COLUMNS_=(connected alive_at_measure seconds_from_first_connect_to_measure rss_before_kib
  rss_all_open_kib rss_per_connection_kib closed_by_server_during_hold closed_after_seconds_p50
  rss_after_close_kib)
tsv_new "$W/hold.tsv" held_as "${COLUMNS_[@]}"
for h in hello idle; do
  say "hold 10000 connections ($h), fresh daemon"
  start_daemon "hold-$h"
  sleep 0.5
  args=()
  [ "$h" = hello ] && args=(--hello)
  python3 "$ROOT/bench/hold_connections.py" hold --port "${DADDR##*:}" --count 10000 "${args[@]}" \
    --pid "$DPID" --settle 1 --hold 14 > "$W/hold-$h.json"
  stop_daemon
  row=("$h")
  for c in "${COLUMNS_[@]}"; do row+=("$(jnum "$W/hold-$h.json" ".$c")"); done
  tsv_row "$W/hold.tsv" "${row[@]}"
done
