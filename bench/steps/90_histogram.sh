#!/usr/bin/env bash
# 90_histogram.sh — the latency histogram of section 3's runs: histogram.tsv (per cent of each
# run's enrollments per latency bucket, buckets no run used left out) and
# docs/latency-histogram.png drawn from it with gnuplot.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/../lib.sh"
say "gnuplot"
RUNS_=(c1 c64 c1000 slow1)
tsv_new "$W/histogram.tsv" bucket "${RUNS_[@]}"
# One jq over the four runs: each run's buckets as per cent of its enrollments.
for r in "${RUNS_[@]}"; do set -- "$@" "$W/$r.json"; done
jq -r -s '
  [.[] | (.all.latency_ms.count as $t | [.all.histogram[] |
    {b: (if .le_ms == null then ">500000" else "≤\(.le_ms)" end), c: .count, t: $t}])] as $runs
  | range(0; $runs[0] | length) as $i
  | [$runs[] | .[$i]] as $row
  | select(([$row[].c] | add) > 0)
  | [$row[0].b] + [$row[] | (100 * .c / (if .t > 0 then .t else 1 end) * 100 | round / 100)]
  | @tsv' "$@" >> "$W/histogram.tsv"
meta histogram_date "$(date -u +%Y-%m-%d)"
tail -n +2 "$W/histogram.tsv" | sed 's/^\([^\t]*\)/"\1"/' > "$W/hist-pct.dat"
gnuplot <<GP
set terminal pngcairo size 900,500 font ",10"
set output "$ROOT/docs/latency-histogram.png"
set title "provisiond enrollment latency (device-sim, TLS 1.3 mTLS + simpleenroll), $(date -u +%Y-%m-%d)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set ylabel "% of enrollments"
set xlabel "latency bucket, ms (upper bound)"
set yrange [0:*]
set grid ytics
plot "$W/hist-pct.dat" using 2:xtic(1) title "c=1 ($N1)", \
     "" using 3 title "c=64 ($N64)", \
     "" using 4 title "c=1000 ($N1000)", \
     "" using 5 title "c=64 + 1000 slowloris ($NCMP)"
GP
meta load_end "$(loadavg)"
