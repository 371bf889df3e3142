#!/usr/bin/env bash
# A small storm: 150 devices at once against a daemon with room for 64 connections, a per-address
# rate limit and a short Retry-After. Every device ends with its certificate, the only answers
# are 200, 503 and 429, and the Retry-After values differ (jittered, daemon/retry_after.h).
# Once the storm has drained, the daemon hands its free heap back (daemon/heap_return.h).
. "$(dirname "$0")/lib.sh"

init_state
"$DEVICE_SIM" factory --out "$T/fleet" --count 150 >/dev/null
start_daemon --trust "$T/fleet/factory-ca.crt" --max-connections 64 --retry-after 2 \
  --rate-limit-address 40/4s
SIM=("$DEVICE_SIM" --fleet "$T/fleet" --server "127.0.0.1:$PORT" --ca-bundle "$CA")
out=$("${SIM[0]}" enroll "${SIM[@]:1}" --concurrency 150 --threads 2 --max-retries 60 \
  --retry-connections --prepare-keys --timeout 10 --json "$T/storm.json" 2>"$T/sim.err")
expect_contains "150 devices at once: every one enrolled" "enroll: ok=150 failed=0" "$out"
expect_eq "150 certificates recorded" 150 "$(sql "SELECT count(*) FROM certificates")"
# A device gives up on any other status (only 503/429 are retried), so ok=150 already says the
# devices saw nothing else; the journal says it from the daemon's side.
statuses=$(sed -n 's/^<[0-9]>\(enroll_refused\|reissued\) .* status=\([0-9]*\) .*/\2/p' \
  "$T/daemon.log" | sort -u | paste -sd,)
expect_eq "refusals were 429/503 only ($statuses)" "" \
  "$(tr ',' '\n' <<<"$statuses" | grep -vxE '429|503|')"
read -r refusals distinct lo hi < <(python3 - "$T/storm.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))["timeline"]
ra = {int(k): v for k, v in t["retry_after_seconds"].items()}
print(sum(t["per_second"]["retry_status"]), len(ra), min(ra, default=0), max(ra, default=0))
PY
)
check "some answers were 503/429 ($refusals)" test "$refusals" -gt 0
check "the Retry-After values differ ($distinct distinct, $lo..$hi s)" test "$distinct" -ge 2
check "within the jitter bounds (1..3 s)" test "$lo" -ge 1 -a "$hi" -le 3
# 150 connections closed and none open: 1 s after the table drained, one worker's sweep trims.
for _ in $(seq 1 40); do
  grep -q '^<6>heap_returned kib=' "$T/daemon.log" && break
  sleep 0.1
done
check "free heap returned once the storm drained" grep -q '^<6>heap_returned kib=' "$T/daemon.log"
finish
