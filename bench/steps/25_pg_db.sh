#!/usr/bin/env bash
# 25_pg_db.sh — section 2b: the issuance workload of db_bench through db::Writer on a throwaway
# PostgreSQL cluster (durable: initdb's defaults) and, for comparison, on SQLite (bench/store_bench)
# -> pg_db.tsv (one row a run: rate, batches, lock hold, the server's CPU) and pg_trips.tsv (the
# statements, i.e. round trips, and COMMITs per issuance, counted in the server log).
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/../lib.sh"
trap pg_stop EXIT
say "PostgreSQL cluster"
pg_start
meta pg_db_load "$(loadavg)"
meta pg_db_seconds "$PG_SECONDS"
meta_once hz "$HZ"
rm -f "$W/pg_db.tsv" "$W/store_bench.db"*
run() {  # run LABEL STORE WRITERS THREADS INFLIGHT [extra store_bench args...]
  local label=$1 store=$2 writers=$3 threads=$4 inflight=$5
  shift 5
  say "store_bench $label: $writers writer(s), $threads thread(s) x $inflight in flight"
  "$B/bench/store_bench" --store "$store" --seconds "$PG_SECONDS" --writers "$writers" \
    --threads "$threads" --inflight "$inflight" --label "$label" --tsv "$W/pg_db.tsv" "$@" \
    >> "$W/store_bench.txt"
}
: > "$W/store_bench.txt"
# One submitter with one issuance in flight: every batch holds one operation, so an issuance costs
# two transactions (Reserve, Complete). Then 8 threads x 32 in flight (db_bench's load), batching;
# then the same load over two writers, each with its own connection: two replicas' writers taking
# turns on the audit_head lock.
SQ="sqlite:$W/store_bench.db"
run s1 "$SQ" 1 1 1
run sN "$SQ" 1 8 32
run s2 "$SQ" 2 8 32
run p1 "$PGURL" 1 1 1 --server-pid "$PGPID"
run pN "$PGURL" 1 8 32 --server-pid "$PGPID"
run p2 "$PGURL" 2 8 32 --server-pid "$PGPID"
# Round trips: every statement the writer sends is one (PQexec / PQexecParams, no pipelining), and
# log_statement=all logs each once. Short runs between store_bench's --mark statements; not timed.
pg_sql "ALTER SYSTEM SET log_statement = 'all'"
pg_sql "SELECT pg_reload_conf()" > /dev/null
tsv_new "$W/pg_trips.tsv" run issued statements commits
for spec in t1:1:1 tN:8:32; do
  IFS=: read -r label threads inflight <<< "$spec"
  from=$(($(wc -l < "$PGDIR/server.log") + 1))
  "$B/bench/store_bench" --store "$PGURL" --seconds 1 --threads "$threads" --inflight "$inflight" \
    --mark --label "$label" > "$W/trips-$label.txt"
  tail -n "+$from" "$PGDIR/server.log" | sed -n '/store_bench load begins/,/store_bench load ends/p' \
    > "$W/trips-$label.log"
  statements=$(grep -cE 'LOG:  (statement|execute [^:]*): ' "$W/trips-$label.log" || true)
  commits=$(grep -cE 'LOG:  (statement|execute [^:]*): COMMIT$' "$W/trips-$label.log" || true)
  # The two --mark statements are not the writer's.
  tsv_row "$W/pg_trips.tsv" "$label" "$(cut -f7 "$W/trips-$label.txt")" "$((statements - 2))" \
    "$commits"
done
pg_sql "ALTER SYSTEM RESET log_statement"
pg_sql "SELECT pg_reload_conf()" > /dev/null
