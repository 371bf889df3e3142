#!/usr/bin/env bash
# PostgreSQL restarted under three replicas (pg_ctl stop -m fast, 3 s away, start) while a fleet
# enrolls through HAProxy: devices get 503 + Retry-After while it is away (never another error,
# never a hang), device-sim's retries then succeed, every device ends with a certificate, and
# nothing is lost: every certificate received has its row, no serial twice, `audit verify --store`
# passes. A probe enrolling one fresh device at a time measures the outage devices see.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/service_lib.sh"
. "$(dirname "$0")/pg_lib.sh"

DOWN=${DOWN:-3}
pg_init p1
pg_start p1
pg_create_store p1
STORE=$(pg_url p1)
init_state
"$DEVICE_SIM" factory --out "$T/fleet" --count 500 >/dev/null
# --retry-after 10: a 503 says 5-15 s (daemon/retry_after.h), which device-sim stretches by at
# most 1.5x; a device's fourth attempt comes >= 15 s after its first 503, twice the outage
# (PostgreSQL away 3 s, and the replicas' reconnect back-off: 3.4-6.9 s of 503s seen here).
REPLICA_ARGS=(--store "$STORE" --trust "$T/fleet/factory-ca.crt" --retry-after 10)
start_replicas 3
start_haproxy
prepare_probe 401 500

# 300 devices starting at 20/s (15 s), each on its own (a device waiting out a Retry-After does
# not hold up the others' starts), retrying after 503 up to three times (Retry-After 5-15 s,
# stretched by at most 1.5x): at most ~85 s even if the store never came back. The probe alongside.
"$DEVICE_SIM" enroll --fleet "$T/fleet" --server "127.0.0.1:$HPORT" --ca-bundle "$CA" \
  --devices "$(seq -f 'dev-%05g' 1 300 | paste -sd,)" --concurrency 300 --rate 20 \
  --timeout 15 --max-retries 3 >"$T/sim.log" 2>"$T/sim.err" &
sim=$!
start_probe 401 500
sleep 4
t_stop=$(date +%s.%N)
pg_stop p1 fast
t_down=$(date +%s.%N)
sleep "$DOWN"
pg_start p1
t_up=$(date +%s.%N)
echo "PostgreSQL stopped at +0 s (stop took $(echo "$t_down - $t_stop" | bc) s)," \
  "back at +$(echo "$t_up - $t_stop" | bc) s"
rc=0
wait "$sim" || rc=$?
probe_wait_ok "$(date +%s.%N)"  # the probe sees the recovery
stop_probe
cat "$T/sim.log"
head -n 10 "$T/sim.err" | sed 's/^/  stderr: /'
expect_eq "device-sim: every device got its certificate" 0 "$rc"
expect_contains "... all 300" "enroll: ok=300 failed=0" "$(head -n 1 "$T/sim.log")"
retries=$(sed -n 's/.* \([0-9]*\) retries after 503\/429.*/\1/p' "$T/sim.log")
check "devices were told to retry while PostgreSQL was away ($retries retries)" test "${retries:-0}" -gt 0

read -r outage counts <<<"$(probe_outage "$t_stop")"
echo "outage seen by the probe: $outage s (answers: $counts)"
expect_eq "the probe saw only 200 and 503" "" \
  "$(awk -v t="$t_stop" '$1 >= t && $2 != 200 && $2 != 503' "$T/probe.log")"
check "the probe saw 503s" grep -q ' 503 ' "$T/probe.log"
expect_eq "every 503 carried Retry-After" "" "$(awk '$2 == 503 && $3 == "-"' "$T/probe.log")"
slowest=$(awk 'BEGIN {m = 0} $4 > m {m = $4} END {print m}' "$T/probe.log")
check "no probe attempt took longer than the request timeout (10 s) and a second: ${slowest} s" \
  awk -v s="$slowest" 'BEGIN {exit !(s < 11)}'
check "the probe's enrollments succeed again after the restart" \
  test "$(tail -n 1 "$T/probe.log" | cut -d' ' -f2)" = 200
check "the outage ended" test "$outage" != unrecovered

# A probe device answered 503 retries once (its issuance may have committed as the server
# went away: the retry then delivers it).
retry_probe_refused 401 500
pgq p1 -c "SELECT serial FROM certificates" | sort >"$T/rows"
expect_eq "every certificate received (fleet and probe) has its row" "" \
  "$(cat <(received_serials "$T/fleet") "$T/probe.received" | sort | comm -23 - "$T/rows")"
expect_eq "certificate rows = certificates received" \
  "$(cat <(received_serials "$T/fleet") "$T/probe.received" | sort -u | wc -l)" "$(wc -l <"$T/rows")"
expect_eq "no serial twice across certificates and pending intents" "" \
  "$(pgq p1 -c "SELECT serial FROM certificates UNION ALL
       SELECT serial FROM issuance_intents WHERE status = 'pending'" | sort | uniq -d)"
out=$("$PROVISIOND" audit verify --store "$STORE" 2>&1) || fail "audit verify --store: $out"
expect_contains "audit verify --store" "audit chain ok" "$out"
finish_replicas
