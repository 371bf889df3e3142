#!/usr/bin/env bash
# Failover under three replicas: a primary with a synchronous streaming standby (pg_basebackup -R,
# synchronous_standby_names, synchronous_commit=on); the replicas' store URL names both hosts
# with target_session_attrs=read-write. Mid-run the primary stops and the standby is promoted
# (pg_ctl promote): devices get 503 + Retry-After meanwhile, then the replicas reconnect to the
# promoted server by themselves; every device ends with a certificate, and no certificate a device
# received is missing on the promoted server (no serial twice there, its audit chain verifies).
# A probe enrolling one fresh device at a time measures the outage devices see.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/service_lib.sh"
. "$(dirname "$0")/pg_lib.sh"

declare -a issued_before
pg_init p1
pg_start p1
pg_create_store p1
pg_standby s1 p1
# Synchronous from here on (ALTER SYSTEM: the primary's own postgresql.auto.conf, not the copy).
"$PG_BIN/psql" -X -qAt -h 127.0.0.1 -p "${PG_PORT[p1]}" -U postgres -d postgres \
  -c "ALTER SYSTEM SET synchronous_standby_names = 's1'" -c "ALTER SYSTEM SET synchronous_commit = on" \
  -c "SELECT pg_reload_conf()" >/dev/null
sync=""
for _ in $(seq 1 50); do
  sync=$(pgq p1 -c "SELECT application_name || ' ' || sync_state FROM pg_stat_replication")
  [ "$sync" = "s1 sync" ] && break
  sleep 0.1
done
expect_eq "the standby replicates synchronously" "s1 sync" "$sync"
STORE=$(pg_url p1 s1)
init_state
"$DEVICE_SIM" factory --out "$T/fleet" --count 500 >/dev/null
# --retry-after 6: a 503 says 3-9 s (daemon/retry_after.h), which device-sim stretches by at
# most 1.5x; with up to three retries a device's fourth attempt comes >= 9 s after its first 503,
# several times the outage (1.6-2.0 s of 503s seen here with the promotion 1 s after the stop).
REPLICA_ARGS=(--store "$STORE" --trust "$T/fleet/factory-ca.crt" --retry-after 6)
start_replicas 3
start_haproxy
prepare_probe 401 500

"$DEVICE_SIM" enroll --fleet "$T/fleet" --server "127.0.0.1:$HPORT" --ca-bundle "$CA" \
  --devices "$(seq -f 'dev-%05g' 1 300 | paste -sd,)" --concurrency 300 --rate 20 \
  --timeout 15 --max-retries 3 >"$T/sim.log" 2>"$T/sim.err" &
sim=$!
start_probe 401 500
sleep 4
t_stop=$(date +%s.%N)
pg_stop p1 fast
sleep 1
pg_promote s1
t_promoted=$(date +%s.%N)
for i in 0 1 2; do issued_before[$i]=$(grep -c '^<5>issued ' "$T/replica-$i.log" || true); done
echo "primary stopped at +0 s, standby promoted at +$(echo "$t_promoted - $t_stop" | bc) s"
rc=0
wait "$sim" || rc=$?
probe_wait_ok "$(date +%s.%N)"  # the probe sees the recovery
stop_probe
cat "$T/sim.log"
head -n 10 "$T/sim.err" | sed 's/^/  stderr: /'
expect_eq "device-sim: every device got its certificate" 0 "$rc"
expect_contains "... all 300" "enroll: ok=300 failed=0" "$(head -n 1 "$T/sim.log")"

read -r outage counts <<<"$(probe_outage "$t_stop")"
echo "outage seen by the probe: $outage s (answers: $counts)"
expect_eq "the probe saw only 200 and 503" "" \
  "$(awk -v t="$t_stop" '$1 >= t && $2 != 200 && $2 != 503' "$T/probe.log")"
expect_eq "every 503 carried Retry-After" "" "$(awk '$2 == 503 && $3 == "-"' "$T/probe.log")"
slowest=$(awk 'BEGIN {m = 0} $4 > m {m = $4} END {print m}' "$T/probe.log")
check "no probe attempt took longer than the request timeout (10 s) and a second: ${slowest} s" \
  awk -v s="$slowest" 'BEGIN {exit !(s < 11)}'
check "the probe's enrollments succeed on the promoted server" \
  test "$(tail -n 1 "$T/probe.log" | cut -d' ' -f2)" = 200
check "the outage ended" test "$outage" != unrecovered
for i in 0 1 2; do
  n=$(( $(grep -c '^<5>issued ' "$T/replica-$i.log" || true) - ${issued_before[$i]} ))
  check "replica $i reconnected: it issued $n after the promotion" test "$n" -gt 0
  expect_eq "... and its /healthz is 200" 200 \
    "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${REPLICA_MPORTS[$i]}/healthz")"
done

# A probe device answered 503 retries once (its issuance may have committed as the server
# went away: the retry then delivers it).
retry_probe_refused 401 500
pgq s1 -c "SELECT serial FROM certificates" | sort >"$T/rows"
expect_eq "every certificate received (fleet and probe) is on the promoted server" "" \
  "$(cat <(received_serials "$T/fleet") "$T/probe.received" | sort | comm -23 - "$T/rows")"
expect_eq "no serial twice there" "" \
  "$(pgq s1 -c "SELECT serial FROM certificates UNION ALL
       SELECT serial FROM issuance_intents WHERE status = 'pending'" | sort | uniq -d)"
out=$("$PROVISIOND" audit verify --store "$(pg_url s1)" 2>&1) || fail "audit verify --store: $out"
expect_contains "audit verify --store on the promoted server" "audit chain ok" "$out"
finish_replicas
