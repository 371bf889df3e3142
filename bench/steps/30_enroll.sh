#!/usr/bin/env bash
# 30_enroll.sh — section 3: provisiond under device-sim load at concurrency 1, 64 and 1000, the
# slowloris comparison and the slow connections alone -> rows of enroll.tsv.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/../lib.sh"
start_daemon serve
meta workers "$(nproc)"
say "provisiond at $DADDR (pid $DPID)"
say "enroll c=1 ($N1)"
enroll c1 c1 1
say "enroll c=64 ($N64)"
enroll c64 c64 64
say "enroll c=1000 ($N1000)"
enroll c1000 c1000 1000
# Slowloris: baseline and with 1000 slow connections, alternated twice so that other load on the
# machine hits both alike; then the slow connections alone (1 enrollment every 2 s).
for i in 1 2; do
  say "enroll c=64 ($NCMP), baseline $i"
  enroll "base$i" "base$i" 64
  say "enroll c=64 ($NCMP) with 1000 slowloris connections, $i"
  enroll "slow$i" "slow$i" 64 --slow 1000
done
say "1000 slowloris connections alone, 20 s"
enroll slowonly slowonly 1 --rate 0.5 --slow 1000
stop_daemon
