#!/usr/bin/env bash
# render_test.sh — bench/render.py on fixture TSVs written here (figures picked so every derived
# number can be checked by hand): each section, each ratio, the splice into a doc, partial runs.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/render_test.XXXXXX")
trap 'rm -rf "$T"' EXIT
R=$T/results
mkdir -p "$R"
fail=0
tsv() { local f=$R/$1.tsv; shift; printf '%s\n' "$@" | sed 's/ *| */\t/g' > "$f"; }

tsv meta "key | value" "run_date | 2030-01-02 03:04 UTC" "nproc | 2" "cpu_model | Test CPU" \
  "kernel | 6.1" "mem_total | 1000 kB" "mbedtls | 3.6.6" "openssl | OpenSSL 3.0" \
  "load_start | 0.10 0.20 0.30" "crypto_load | 1.00 1.00 1.00" "openssl_load | 1.10 1.00 1.00" \
  "crypto_seconds | 1" "openssl_seconds | 2" "db_seconds | 2" "db_load | 1.20 1.00 1.00" \
  "hz | 100" "workers | 2" "NCMP | 3000" "NPERF | 1000" "NREC | 200" "N64 | 2000" "perf | ok" \
  "handshake_load | 1.30 1.00 1.00" "cg_ok | 50" "load_end | 0.50 0.60 0.70" \
  "pg_db_seconds | 5" "pg_db_load | 1.40 1.00 1.00" "pg_version | postgres (PostgreSQL) 15.9" \
  "replicas_devices | 1000"
tsv crypto "operation | us_per_op | ops_per_s | runs | instructions | openssl_ops_per_s" \
  "X25519 shared secret | 500.0 | 2000 | 2000 | 0 | 40000" \
  "ECDH P-256 keygen | 200.0 | 5000 | 5000 | 0 | " \
  "ECDH P-256 shared secret | 600.0 | 1667 | 1667 | 0 | 25000" \
  "ECDSA P-256 sign | 250.0 | 4000 | 4000 | 0 | 50000" \
  "ECDSA P-256 verify | 900.0 | 1111 | 1111 | 0 | 18000" \
  "floor (X25519 + 2 sign + 4 verify) | 5200.0 | 192 | 0 | 0 | " \
  "floor (P-256 ECDH + 2 sign + 4 verify) | 4900.0 | 204 | 0 | 0 | "
tsv db "line" "db_bench fixture line one" "writer: events : 123 events/s"
P="issued | failed | issuances_per_s | transactions | ops_per_txn | begin_ms | locked_ms"
tsv pg_db "run | engine | writers | threads | inflight | seconds | $P | locked_max_ms | commit_ms | writer_cpu_us_per_issuance | p50_ms | p99_ms | server_cpu_ticks" \
  "s1 | sqlite | 1 | 1 | 1 | 5.00 | 500 | 0 | 100 | 1000 | 1.00 | 0.010 | 9.000 | 20.000 | 8.000 | 150.0 | 9.50 | 12.00 | 0" \
  "pN | postgresql | 1 | 8 | 32 | 5.00 | 20000 | 0 | 4000 | 400 | 100.00 | 0.100 | 10.000 | 30.000 | 6.000 | 40.0 | 60.00 | 90.00 | 400" \
  "p2 | postgresql | 2 | 8 | 32 | 5.00 | 25000 | 0 | 5000 | 500 | 100.00 | 5.000 | 12.500 | 40.000 | 7.000 | 45.0 | 50.00 | 80.00 | 500"
tsv pg_trips "run | issued | statements | commits" "t1 | 100 | 1300 | 200" "tN | 5000 | 32600 | 100"
tsv replicas "run | engine | replicas | ok | failed | elapsed_s | p50_ms | p99_ms | replica_cpu_ticks | pg_cpu_ticks | load" \
  "rs1 | sqlite | 1 | 1000 | 0 | 10.0 | 300 | 500 | 800 | 0 | 1.0 1.0 1.0" \
  "rp1 | postgresql | 1 | 1000 | 0 | 10.0 | 310 | 520 | 900 | 100 | 1.1 1.0 1.0" \
  "rs2 | sqlite | 2 | 2000 | 0 | 12.5 | 600 | 900 | 1600 | 0 | 2.0 1.5 1.0" \
  "rp2 | postgresql | 2 | 2000 | 0 | 12.5 | 610 | 950 | 1800 | 250 | 2.1 1.5 1.0"
S='{"connections":1000}'
tsv enroll "run | planned | ok | failed | rate_per_second | p50_ms | p99_ms | max_ms | elapsed_s | daemon_cpu_ticks | load | slow" \
  "c1 | 200 | 200 | 0 | 97.5 | 9.5 | 12.5 | 17 | 2.05 | 120 | 1.10 1.00 1.00 | -" \
  "c64 | 2000 | 2000 | 0 | 196 | 313 | 526 | 585 | 10.2 | 1225 | 1.20 1.00 1.00 | -" \
  "c1000 | 4000 | 3999 | 1 | 201 | 4436 | 6858 | 7361 | 19.9 | 2450 | 1.60 1.10 1.20 | -" \
  "base1 | 3000 | 3000 | 0 | 199 | 308 | 500 | 554 | 15 | 1770 | 2.1 1.2 1.2 | -" \
  "slow1 | 3000 | 3000 | 0 | 187 | 317 | 1000 | 1200 | 16 | 2070 | 2.4 1.4 1.3 | $S" \
  "base2 | 3000 | 3000 | 0 | 198 | 304 | 540 | 671 | 15 | 1785 | 3.1 1.6 1.3 | -" \
  "slow2 | 3000 | 3000 | 0 | 177 | 339 | 1080 | 1300 | 17 | 2190 | 3.3 1.7 1.4 | $S" \
  "slowonly | 20 | 20 | 0 | 0.5 | 10 | 20 | 30 | 40 | 800 | 2.0 1.0 1.0 | $S" \
  "perf | 1000 | 1000 | 0 | 190 | 300 | 500 | 600 | 5.3 | 620 | 2.0 1.0 1.0 | -" \
  "pin1 | 2000 | 2000 | 0 | 165 | 300 | 518 | 600 | 12 | 1200 | 1.9 1.7 1.4 | -" \
  "rec | 200 | 200 | 0 | 185 | 282 | 464 | 500 | 1.1 | 125 | 1.0 1.0 1.0 | -"
# perf report's lines keep their leading blanks (tsv above would eat them).
printf 'kind\tline\ndso\t    77.59%%  libmbedcrypto.so\nsym\t     5.64%%  libmbedcrypto.so  [.] x\n' \
  > "$R/perf.tsv"
tsv handshake "server | tls | connections | wall_s | server_cpu_ticks" \
  "provisiond (mbedTLS) | 1.3 | 1000 | 4.0 | 360" "openssl s_server -Verify 1 | 1.2 | 0 | 5.0 | 3"
tsv pinned "run | worker_ticks | writer_ticks | floor_before_us | floor_after_us | verify_before_us | verify_after_us" \
  "1 | 1100 | 80 | 4800.0 | 5000.0 | 900.0 | 1000.0"
tsv callgrind "kind | label | symbol | instructions" \
  "crypto | ECDSA verify (4 per enrollment) | mbedtls_ecdsa_verify_restartable | 2500000000" \
  "crypto | ECDSA sign (2 per enrollment) | mbedtls_ecdsa_write_signature_restartable | 500000000" \
  "crypto | ECDHE keygen | xxdh | 200000000" "crypto | ECDHE shared secret | psa_raw_key_agreement | 600000000" \
  "other | SQLite writer thread (group commit) | db::Writer::Loop() | 40000000" \
  "total | the daemon, all threads | PROGRAM TOTALS | 4000000000"
tsv hold "held_as | connected | alive_at_measure | seconds_from_first_connect_to_measure | rss_before_kib | rss_all_open_kib | rss_per_connection_kib | closed_by_server_during_hold | closed_after_seconds_p50 | rss_after_close_kib" \
  "hello | 10000 | 10000 | 2.87 | 15804 | 165404 | 14.96 | 10000 | 11.86 | 24932"
tsv flood "requested | refused_by_server | held_open | connect_errors | refusal_seconds_p50 | refusal_seconds_p99 | seconds | rss_before_kib | rss_peak_kib | rss_after_kib | connection_refused_log_lines" \
  "10000 | 9000 | 1000 | {} | 0.0393 | 0.0886 | 3.18 | 15900 | 16680 | 16828 | 6"
tsv chain "run | kind | ok | p50_ms | p99_ms | attacker_handshakes | refused | attacker_per_second | daemon_cpu_ticks | load1" \
  "1 | quiet | 200 | 20 | 50 | - | - | - | 180 | 5.0" "2 | attack | 200 | 50 | 90 | 1000 | 1000 | 80.5 | 480 | 6.0" \
  "3 | quiet | 200 | 30 | 60 | - | - | - | 220 | 5.5"
tsv histogram "bucket | c1 | c64 | c1000 | slow1" "≤10 | 100 | 0 | 0 | 0"

python3 "$ROOT/bench/render.py" "$R" > "$T/out.md"
expect() {  # expect LINE: the rendered markdown has exactly this line
  grep -qxF -- "$1" "$T/out.md" || { echo "FAIL: missing line: $1" >&2; fail=1; }
}
expect_in() {  # expect_in TEXT: some line contains TEXT
  grep -qF -- "$1" "$T/out.md" || { echo "FAIL: missing text: $1" >&2; fail=1; }
}
# Machine line.
# shellcheck disable=SC2016  # the backquotes are markdown
expect_in 'Run of 2030-01-02 03:04 UTC on `2` CPUs (Test CPU), kernel 6.1, 1000 kB RAM'
# 1. OpenSSL µs = 1e6 / ops; "faster by" = OpenSSL ops / mbedTLS ops; floor rows not in the table.
expect "### 1. Crypto floor (bench/crypto_floor, load 1.00 1.00 1.00; openssl speed at load 1.10 1.00 1.00)"
expect "| ECDSA P-256 sign | 250.0 | 4000 | 50000 | 20.0 | 12.5× |"
expect "| ECDSA P-256 verify | 900.0 | 1111 | 18000 | 55.6 | 16.2× |"
expect "| ECDH P-256 shared secret | 600.0 | 1667 | 25000 | 40.0 | 15.0× |"
expect "| ECDH P-256 keygen | 200.0 | 5000 | | | |"
grep -q '^| floor' "$T/out.md" && { echo "FAIL: a floor row in the operation table" >&2; fail=1; }
# Floors: ours 4900, the issue's = ours − 1 verify = 4000; OpenSSL 1e6(2/25000+2/50000+4/18000).
expect_in "post-sign check) = **4900.0 µs** with mbedTLS (with X25519 instead, as OpenSSL and curl clients send: 5200.0 µs)"
expect_in "the issue's list of operations: **4000.0 µs**"
expect_in "(P-256 keygen counted as one more derive): 342.2 µs."
# 2.
expect "### 2. Group commit (bench/db_bench --seconds 2, state on the same disk as the run; load 1.20 1.00 1.00)"
expect "writer: events : 123 events/s"
# 2b. transactions / issuance = transactions / issued; issuances / batch = ops / 2; server µs =
# ticks / hz × 1e6 / issued (none for SQLite).
expect "### 2b. The store under the issuance workload, PostgreSQL and SQLite (bench/store_bench --seconds 5; load 1.40 1.00 1.00)"
expect "| s1 | sqlite | 1 | 1 × 1 | **100** | 2.00 | 0.50 | 0.010 | **9.000** | 20.000 | 8.000 | 150.0 | **–** | 9.50 | 12.00 |"
expect "| pN | postgresql | 1 | 8 × 32 | **4000** | 0.02 | 50.00 | 0.100 | **10.000** | 30.000 | 6.000 | 40.0 | **200** | 60.00 | 90.00 |"
expect "| p2 | postgresql | 2 | 8 × 32 | **5000** | 0.02 | 50.00 | 5.000 | **12.500** | 40.000 | 7.000 | 45.0 | **200** | 50.00 | 80.00 |"
expect_in "synchronous_commit on, a throwaway cluster over its Unix socket"
expect_in "postgres (PostgreSQL) 15.9."
# Round trips = statements / issued; COMMITs / issued.
expect "| 1 × 1 | 100 | 1300 | **13.0** | 2.00 |"
expect "| 8 × 32 | 5000 | 32600 | **6.5** | 0.02 |"
# 3b. rate = ok / elapsed; CPU ms = ticks / hz × 1000 / ok; busy = replica CPU / (elapsed × replicas).
expect "| sqlite | 1 | 1000 | 0 | **100.0** | 300.0 | 500.0 | **8.000** | **–** | 8.000 | 80% | 1.0 1.0 1.0 |"
expect "| postgresql | 1 | 1000 | 0 | **100.0** | 310.0 | 520.0 | **9.000** | **1.000** | 10.000 | 90% | 1.1 1.0 1.0 |"
expect "| sqlite | 2 | 2000 | 0 | **160.0** | 600.0 | 900.0 | **8.000** | **–** | 8.000 | 64% | 2.0 1.5 1.0 |"
expect "| postgresql | 2 | 2000 | 0 | **160.0** | 610.0 | 950.0 | **9.000** | **1.250** | 10.250 | 72% | 2.1 1.5 1.0 |"
# 3c. H = 12.5 and k = 100 / 2 from p2: X_lock = 1000 × 50 / 12.5 = 4000, H / k = 0.25; c_db =
# 1.25 from rp2: X_cpu = 1000 × 2 / 1.25 = 1600; R = 1000 / 9 = 111.1; N* = 1600 / 111.1 = 14.4.
expect_in "H = lock held per batch = 12.500 ms and k = issuances per batch = 50.00 (section 2b, run p2)"
expect_in "c_db = PostgreSQL CPU per enrollment = 1.250 ms (section 3b, 2 replicas)"
expect "* serialized time per enrollment under the lock: H ÷ k = 0.250 ms"
expect "* lock bound: X_lock = 1000 × k ÷ H = **4000 issuances/s**"
expect "* CPU bound: X_cpu = 1000 × P ÷ c_db = **1600 issuances/s**"
expect "* one replica (one CPU): R = 1000 ÷ c_rep = **111 enrollments/s** (measured with device-sim beside it: 100.0/s, its core 90% busy)"
expect "* **N\\* = min(X_lock, X_cpu) ÷ R = 14.4 one-CPU replicas** (bound by the primary's CPU)"
# 3. CPU s = ticks / hz; ms = CPU s × 1000 / ok; × floor = ms × 1000 / floor µs.
expect_in "| × our floor (4900.0 µs) | × issue's floor (4000.0 µs) |"
expect "| 1 | 200 | 200 | 0 | 97.5 | 9.5 | 12.5 | 17 | 1.200 | **6.000** | 1.22 | 1.50 | 1.10 1.00 1.00 |"
expect "| 64 | 2000 | 2000 | 0 | 196 | 313 | 526 | 585 | 12.250 | **6.125** | 1.25 | 1.53 | 1.20 1.00 1.00 |"
expect "| 1000 | 4000 | 3999 | 1 | 201 | 4436 | 6858 | 7361 | 24.500 | **6.127** | 1.25 | 1.53 | 1.60 1.10 1.20 |"
expect "| 64 + 1000 slowloris (2) | 3000 | 3000 | 0 | 177 | 339 | 1080 | 1300 | 21.900 | **7.300** | 1.49 | 1.82 | 3.3 1.7 1.4 |"
# Slowloris: mean p99 (500, 540) = 520 and (1000, 1080) = 1040, ratio 2.0; 8 s of CPU in 40 s = 20 %.
expect_in "mean p99 of the good devices 520 ms without, 1040 ms with (2.0×; target ≤ 2×)"
expect_in "(20 enrollments at 0.5/s alongside, 40 s) cost the daemon 8.000 s of CPU, i.e. 20% of one core"
expect '{"connections":1000}'
# 4a.
expect "Daemon CPU per enrollment in this run (perf attached): 6.200 ms."
expect "    77.59%  libmbedcrypto.so"
expect "     5.64%  libmbedcrypto.so  [.] x"
# 5. handshakes/s = connections / wall s; CPU ms = ticks / hz × 1000 / connections (0 if none).
expect "| provisiond (mbedTLS) | 1.3 | 250 | 3.60 |"
expect "| openssl s_server -Verify 1 | 1.2 | 0 | 0.00 |"
# 5b. worker 1100 ticks / 2000 = 5.500 ms; floors (4800+5000)/2 = 4900 and (3900+4000)/2 = 3950.
expect "| 1 | 2000 | 165 | 518 | **6.000** | 5.500 | 0.400 | 4800.0 → 5000.0 | **1.22** | 1.52 | 1.9 1.7 1.4 |"
# 4b. per enrollment = Ir / 50 / 1e6; share = Ir / total; total / crypto sum = 4.0 / 3.8.
expect "| ECDSA verify (4 per enrollment) (\`mbedtls_ecdsa_verify_restartable\`) | 50.00 | 62.5% |"
expect "| **crypto floor operations, sum** | **76.00** | **95.0%** |"
expect "| SQLite writer thread (group commit) | 0.80 | 1.0% |"
expect "| **the daemon, all threads** | **80.00** | 100% |"
expect "In instructions the daemon spends 1.053× its crypto floor operations (user space)."
# 6, 7.
expect "| partial ClientHello (43 bytes) | 10000 | 10000 | 2.87 | 15804 | 165404 | **14.96** | 10000 | 11.86 | 24932 |"
expect "| 10000 | 9000 | 1000 | {} | 0.0393 | 0.0886 | 3.18 | 15900 | 16680 | 16828 | 6 |"
expect_in "200 ok, 0 failed, 185/s, p50 282 ms, p99 464 ms; daemon CPU 6.250 ms per enrollment."
# 8. ratio = 50 / mean(20, 30); (480 − mean(180, 220)) ticks = 2.8 s over 1000 handshakes.
expect "| 2 | attack | 200 | 50 | 90 | 1000 (1000) | 80.5 | 4.80 | **2.00×** | 2.80 | 6.0 |"
expect "| 1 | quiet | 200 | 20 | 50 | – | - | 1.80 |  |  | 5.0 |"
expect "Latency histogram of section 3's runs: [latency-histogram.png](latency-histogram.png)."
expect "Load average at the end: 0.50 0.60 0.70."
for h in "### 1." "### 2." "### 2b." "### 3." "### 3b." "### 3c." "### 4a." "### 5." "### 5b." "### 4b." "### 6." "### 7." "### 8."; do
  [ "$(grep -c "^$h " "$T/out.md")" = 1 ] || { echo "FAIL: section $h not exactly once" >&2; fail=1; }
done

# --doc: the hand-written text around the markers is kept, the old results replaced.
printf '%s\n' "# Benchmarks" "hand-written method" \
  "<!-- results:begin (bench/run.sh rewrites this part) -->" "stale figure 999" \
  "<!-- results:end -->" "after the results" > "$T/doc.md"
python3 "$ROOT/bench/render.py" "$R" --doc "$T/doc.md"
if ! { grep -qxF "hand-written method" "$T/doc.md" && grep -qxF "after the results" "$T/doc.md" &&
  ! grep -qF "stale figure 999" "$T/doc.md" &&
  grep -qxF "| provisiond (mbedTLS) | 1.3 | 250 | 3.60 |" "$T/doc.md"; }; then
  echo "FAIL: --doc splice" >&2; fail=1
fi

# A partial run (the crypto step only) renders section 1 and nothing it did not measure.
mkdir "$T/partial"
cp "$R/crypto.tsv" "$T/partial/"
python3 "$ROOT/bench/render.py" "$T/partial" > "$T/partial.md"
if ! grep -qF "**4900.0 µs**" "$T/partial.md" || grep -qE '^### [2-7]' "$T/partial.md"; then
  echo "FAIL: partial run" >&2; fail=1
fi
# The store step alone renders section 2b without the model (which also needs section 3b).
mkdir "$T/store"
cp "$R/pg_db.tsv" "$R/pg_trips.tsv" "$R/meta.tsv" "$T/store/"
python3 "$ROOT/bench/render.py" "$T/store" > "$T/store.md"
if ! grep -qF "| **200** | 60.00 | 90.00 |" "$T/store.md" || grep -qE '^### 3c' "$T/store.md"; then
  echo "FAIL: store step alone" >&2; fail=1
fi
# The token step alone: CPU ms per enrollment from ticks (hz 100) and the ratio of the means.
mkdir "$T/token"
printf 'key\tvalue\nhz\t100\ntoken_devices\t100\ntoken_concurrency\t8\n' > "$T/token/meta.tsv"
printf '%s\n' "run	key	ok	failed	rate_per_second	p50_ms	p99_ms	elapsed_s	daemon_cpu_ticks	load" \
  "file1	file	100	0	150	40	60	0.7	50	1 1 1" "token1	token	100	0	120	50	70	0.8	80	1 1 1" \
  "file2	file	100	0	150	40	60	0.7	70	1 1 1" "token2	token	100	0	120	50	70	0.8	100	1 1 1" \
  > "$T/token/token.tsv"
python3 "$ROOT/bench/render.py" "$T/token" > "$T/token.md"
if ! grep -qF "| token1 | token | 100 | 0 | 120 | 50 | 70 | **8.000** |" "$T/token.md" ||
   ! grep -qF "9.000 ms with the token, 6.000 ms with the file: **1.50×** (token − file: 3.000 ms per" "$T/token.md"; then
  echo "FAIL: token step" >&2; fail=1
fi
# Bad usage: one line on stderr, non-zero exit.
if python3 "$ROOT/bench/render.py" "$T/nonexistent" 2> "$T/err"; then
  echo "FAIL: a missing results directory was accepted" >&2; fail=1
fi
[ "$fail" = 0 ] && echo "render_test: ok"
exit "$fail"
