#!/usr/bin/env bash
# growth_admin_ab.sh ROUNDS — one-device list and revoke on a grown SQLite store (GROW_DB), two
# provisiond binaries (BASE, NEW) alternated, warm page cache, no daemon running: wall ms, CPU ms
# (perf stat task-clock) and fsync+fdatasync / unlink counts (strace -f), each from a run of its
# own, a fresh device id each run. TSV on stdout (docs/benchmarks.md, "Costs that grow with the
# store"). Revokes devices device-ID0+1 ... of the store.
set -euo pipefail
ROUNDS=${1:-5}
DB=${GROW_DB:-/tmp/grow2/store.db}
STATE=${GROW_STATE:-/tmp/grow2/run/grow/state}
BASE=${BASE:?the provisiond to compare against}
NEW=${NEW:?the provisiond of this tree}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
ID0=${ID0:-2800000}
reset_wal() {  # the state BASE (main) leaves: no -wal/-shm (only when nothing has the file open)
  if ! fuser -s "$DB" 2>/dev/null; then
    if [ -e "$DB-wal" ] && [ "$(stat -c %s "$DB-wal")" -eq 0 ]; then rm -f "$DB-wal" "$DB-shm"; fi
  fi
}
wall() {  # wall BIN ARGS...: ms from exec to exit, nothing else around it
  local bin=$1 t0 t1; shift
  t0=$(date +%s%N)
  "$bin" "$@" --state-dir "$STATE" --store "sqlite:$DB" > /dev/null 2> "$T/cmd.err" || true
  t1=$(date +%s%N)
  echo $(( (t1 - t0) / 1000000 ))
}
cpu() {  # cpu BIN ARGS...: task-clock ms (perf stat)
  local bin=$1; shift
  perf stat -x, -e task-clock -o "$T/stat.txt" "$bin" "$@" --state-dir "$STATE" --store "sqlite:$DB" > /dev/null 2>&1 || true
  awk -F, '/task-clock/ {printf "%.1f", $1}' "$T/stat.txt"
}
syncs() {  # syncs BIN ARGS...: fsync+fdatasync calls (directory syncs included), and unlinks
  local bin=$1; shift
  strace -f -e trace=fsync,fdatasync,unlink -o "$T/strace.txt" "$bin" "$@" --state-dir "$STATE" --store "sqlite:$DB" > /dev/null 2>&1 || true
  echo "$(grep -cE 'fsync|fdatasync' "$T/strace.txt")/$(grep -c unlink "$T/strace.txt")"
}
printf "round\tbinary\tcommand\twall_ms\tcpu_ms\tsyncs/unlinks\tload1\n"
n=$ID0
for r in $(seq 1 "$ROUNDS"); do
  for which in base new; do
    bin=$BASE; [ $which = new ] && bin=$NEW
    load=$(cut -d' ' -f1 /proc/loadavg)
    for cmd in list revoke; do
      vals=()
      for m in wall cpu syncs; do
        [ $which = base ] && reset_wal
        n=$((n + 1))
        if [ $cmd = list ]; then vals+=("$($m "$bin" list --device-id "device-$n")")
        else vals+=("$($m "$bin" revoke --device-id "device-$n" --reason superseded)"); fi
      done
      printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\n" "$r" "$which" "$cmd" "${vals[0]}" "${vals[1]}" "${vals[2]}" "$load"
    done
  done
done
