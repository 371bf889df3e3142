#!/usr/bin/env bash
# 87_store_size.sh — bytes of store per enrollment: device-sim (concurrency 64) enrolls a fleet of
# BENCH_STORE_N devices into a fresh SQLite store and a fresh PostgreSQL database -> store_size.tsv
# (size before/after, per enrollment) and store_parts.tsv (per table and index, per enrollment),
# each also "packed": the live rows only (SQLite VACUUM INTO a copy, PostgreSQL VACUUM FULL), so
# free space inside pages and dead row versions are left out.
# With BENCH_STORE_BASE=<another provisiond binary> (e.g. main's) each backend is measured with
# both binaries, alternated (base, this, base, this), so the A/B shares the machine's load.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/../lib.sh"
SN=${BENCH_STORE_N:-20000}
FLEET=$W/fleet-store
SDPID=""
cleanup() {
  [ -n "$SDPID" ] && kill -TERM "$SDPID" 2> /dev/null && wait "$SDPID" 2> /dev/null
  [ -n "$PGDIR" ] && pg_stop
  return 0
}
trap cleanup EXIT
[ -d "$FLEET" ] || "$SIM" factory --out "$FLEET" --count "$SN" --prefix st- \
  --ca-name "Factory CA store" > /dev/null
pg_start
meta store_size_n "$SN"
meta_once hz "$HZ"
[ -s "$W/store_size.tsv" ] || tsv_new "$W/store_size.tsv" run binary engine ok failed \
  rate_per_second bytes_before bytes_after bytes_per_enrollment load bytes_packed \
  bytes_per_enrollment_packed
[ -s "$W/store_parts.tsv" ] || tsv_new "$W/store_parts.tsv" run engine form name bytes \
  bytes_per_enrollment

sqlite_bytes() { sqlite3 -readonly "$1" "SELECT page_count * page_size FROM pragma_page_count, pragma_page_size"; }
pg_bytes() { pg_sql "SELECT pg_database_size('$1')"; }
# The SQLite file's pages per table and index (dbstat); PostgreSQL's tables (heap, TOAST, free
# space and visibility maps: pg_table_size) and indexes (pg_relation_size) of the public schema.
sqlite_parts() {
  sqlite3 -readonly -separator $'\t' "$1" "SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC"
}
pg_parts() {
  psql -X -q -At -F $'\t' -h "$PGDIR" -U postgres -d "$1" -c "SELECT relname,
    CASE relkind WHEN 'r' THEN pg_table_size(oid) ELSE pg_relation_size(oid) END FROM pg_class
    WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'i') ORDER BY 2 DESC"
}

# one LABEL BINARY ENGINE: a fresh state dir (and database), serve, enroll the fleet, measure.
one() {
  local label=$1 bin=$2 engine=$3 dir=$W/store-$1-$3 db=st_${1}_$3 store=() before after l
  rm -rf "$dir"
  "$bin" init --state-dir "$dir" --server-name localhost --server-name 127.0.0.1 > /dev/null
  if [ "$engine" = postgresql ]; then
    pg_sql "DROP DATABASE IF EXISTS $db" && pg_sql "CREATE DATABASE $db"
    store=(--store "postgresql:///$db?host=$PGDIR&user=postgres")
    "$bin" migrate "${store[@]}" > /dev/null
    before=$(pg_bytes "$db")
  else
    # A first start creates and migrates the file: "before" is the empty store at this schema.
    "$bin" migrate --state-dir "$dir" > /dev/null
    before=$(sqlite_bytes "$dir/provisiond.db")
  fi
  local log=$dir/serve.log
  : > "$log"
  "$bin" serve --state-dir "$dir" "${store[@]}" --listen 127.0.0.1:0 --rate-limit-device off \
    --trust "$FLEET/factory-ca.crt" 2> "$log" &
  SDPID=$!
  local addr=""
  for _ in $(seq 1 100); do
    addr=$(sed -n 's/.*listening on \([0-9.]*:[0-9]*\).*/\1/p' "$log")
    [ -n "$addr" ] && break
    sleep 0.1
  done
  [ -n "$addr" ] || { cat "$log" >&2; exit 1; }
  l=$(loadavg)
  say "store size: $label $engine, $SN devices at concurrency 64 (load $l)"
  "$SIM" enroll --fleet "$FLEET" --server "$addr" --ca-bundle "$dir/ca.crt" --concurrency 64 \
    --timeout 60 --json "$dir/enroll.json" > "$dir/enroll.txt" 2>&1 || true
  kill -TERM "$SDPID" 2> /dev/null || true
  wait "$SDPID" || true
  SDPID=""
  local ok failed rate packed
  read -r ok failed rate < <(jq -r '[.ok, .failed, .rate_per_second] | @tsv' "$dir/enroll.json")
  if [ "$engine" = postgresql ]; then
    pg_sql "CHECKPOINT"
    after=$(pg_bytes "$db")
    pg_parts "$db" > "$dir/parts.tsv"
    psql -X -q -h "$PGDIR" -U postgres -d "$db" -c "VACUUM FULL" && pg_sql "CHECKPOINT"
    packed=$(pg_bytes "$db")
    pg_parts "$db" > "$dir/parts-packed.tsv"
  else
    after=$(sqlite_bytes "$dir/provisiond.db")
    sqlite_parts "$dir/provisiond.db" > "$dir/parts.tsv"
    rm -f "$dir/packed.db"
    sqlite3 "$dir/provisiond.db" "VACUUM INTO '$dir/packed.db'"
    packed=$(sqlite_bytes "$dir/packed.db")
    sqlite_parts "$dir/packed.db" > "$dir/parts-packed.tsv"
  fi
  local per=$((ok > 0 ? ok : 1))
  tsv_row "$W/store_size.tsv" "$label" "$bin" "$engine" "$ok" "$failed" "$rate" "$before" \
    "$after" "$(((after - before) / per))" "$l" "$packed" "$(((packed - before) / per))"
  local form file
  for form in live packed; do
    file=$dir/parts.tsv
    [ "$form" = packed ] && file=$dir/parts-packed.tsv
    while IFS=$'\t' read -r name bytes; do
      tsv_row "$W/store_parts.tsv" "$label" "$engine" "$form" "$name" "$bytes" "$((bytes / per))"
    done < "$file"
  done
}

# BENCH_STORE_RUNS: which of the two to run ("base this" by default when a base is given);
# BENCH_STORE_ENGINES: which backends ("sqlite postgresql" by default).
for engine in ${BENCH_STORE_ENGINES:-sqlite postgresql}; do
  for run in ${BENCH_STORE_RUNS:-${BENCH_STORE_BASE:+base} this}; do
    if [ "$run" = base ]; then one base "$BENCH_STORE_BASE" "$engine"; else one this "$P" "$engine"; fi
  done
done
column -t -s $'\t' "$W/store_size.tsv" >&2
