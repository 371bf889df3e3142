#!/usr/bin/env bash
# 20_db.sh — section 2: the group-commit microbenchmark bench/db_bench -> db.tsv (its report,
# one line a row: its figures are already per operation and are shown as it prints them).
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/../lib.sh"
say "db_bench"
meta db_load "$(loadavg)"
meta db_seconds "$DB_SECONDS"
"$B/bench/db_bench" --seconds "$DB_SECONDS" --dir "$W" > "$W/db_bench.txt" 2>&1
tsv_new "$W/db.tsv" line
tr '\t' ' ' < "$W/db_bench.txt" >> "$W/db.tsv"
