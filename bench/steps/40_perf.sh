#!/usr/bin/env bash
# 40_perf.sh — section 4a: perf record on the daemon during enroll c=64 -> perf.tsv (the top
# shared objects and symbols by self time, as perf report prints them) and the run's enroll.tsv row.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/../lib.sh"
tsv_new "$W/perf.tsv" kind line
if ! perf stat -e instructions true > /dev/null 2>&1; then
  meta perf unusable
  exit 0
fi
meta perf ok
start_daemon perf-daemon
say "perf record during enroll c=64 ($NPERF)"
perf record -F 499 -g -p "$DPID" -o "$W/perf.data" > /dev/null 2>&1 &
PERFPID=$!
sleep 0.5
enroll perf perf 64
kill -INT "$PERFPID"
wait "$PERFPID" || true
stop_daemon
perf report -i "$W/perf.data" --no-children --sort dso --stdio > "$W/perf-dso.all" 2> /dev/null
perf report -i "$W/perf.data" --no-children --sort dso,sym --stdio -g none \
  > "$W/perf-sym.all" 2> /dev/null
# perf report's sample lines start with blanks and a percentage; keep the top 12 and 30.
top() { grep -E '^ +[0-9]' "$1" | head -"$2" | tr '\t' ' '; }
top "$W/perf-dso.all" 12 | while IFS= read -r l; do tsv_row "$W/perf.tsv" dso "$l"; done
top "$W/perf-sym.all" 30 | while IFS= read -r l; do tsv_row "$W/perf.tsv" sym "$l"; done
