#!/usr/bin/env bash
# Replicas crash, the shared record holds (crash_kill9.sh across replicas): a fleet enrolls through
# HAProxy into three replicas on one PostgreSQL while a loop kill -9s a random replica and restarts
# it (KILLS times, ~3 s apart). Afterwards every certificate a device received has its row, no
# serial appears twice, every row has its issued event, and `audit verify --store` passes. Then a
# kill between an enrollment's two commits (held there by a lock): the pending intent is listed by
# `provisiond list --pending --store`, and the device's same-key retry on another replica resumes
# it. The restarted replicas serve.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/service_lib.sh"
. "$(dirname "$0")/pg_lib.sh"

KILLS=${KILLS:-6}
pg_init p1
pg_start p1
pg_create_store p1
STORE=$(pg_url p1)
init_state
"$DEVICE_SIM" factory --out "$T/fleet" --count 2400 >/dev/null
REPLICA_ARGS=(--store "$STORE" --trust "$T/fleet/factory-ca.crt" --rate-limit-device off)
start_replicas 3
start_haproxy

# 32 enrollments in flight for up to 40 s (or until the devices run out, or the kills are over),
# so that each kill interrupts some; the last four devices are kept for what follows. The kills
# stop when the fleet has ended (a slower build, e.g. ASan, restarts replicas more slowly): at
# least three must land while it enrolls.
devices=$(seq -f 'dev-%05g' 1 2396 | paste -sd,)
"$DEVICE_SIM" enroll --fleet "$T/fleet" --server "127.0.0.1:$HPORT" --ca-bundle "$CA" \
  --devices "$devices" --concurrency 32 --duration 40s --timeout 5 --max-retries 2 \
  >"$T/sim.log" 2>"$T/sim.err" &
sim=$!
sleep 1.5
landed=0
for k in $(seq 1 "$KILLS"); do
  kill -0 "$sim" 2>/dev/null || break
  landed=$k
  i=$((RANDOM % 3))
  kill_replica "$i"
  echo "kill $k: replica $i at $(date +%T.%N | cut -c1-12)"
  sleep "0.$((RANDOM % 5 + 3))"
  start_replica "$i"
  sleep "$((RANDOM % 2 + 1)).$((RANDOM % 10))"
done
echo "kills while the fleet enrolled: $landed of $KILLS"
check "at least three kills landed while the fleet was enrolling" test "$landed" -ge 3
# The kills are over: SIGINT stops new enrollments, the ones in flight finish (device-sim/main.cc).
kill -INT "$sim" 2>/dev/null || true
rc=0
wait "$sim" || rc=$?
head -n 1 "$T/sim.log"
interrupted=$(wc -l <"$T/sim.err")
echo "device-sim exit $rc; enrollments that failed: $interrupted (first: $(head -n 1 "$T/sim.err"))"
check "the kills interrupted enrollments in flight" test "$interrupted" -gt 0

received="$T/received"
received_serials "$T/fleet" >"$received"
n=$(wc -l <"$received")
echo "devices that received a certificate across $landed kills: $n"
check "enrollments completed between the kills" test "$n" -gt 200
pgq p1 -c "SELECT serial FROM certificates" | sort >"$T/rows"
expect_eq "every received certificate has its committed row" "" \
  "$(sort "$received" | comm -23 - "$T/rows")"
expect_eq "no serial twice across certificates and pending intents" "" \
  "$(pgq p1 -c "SELECT serial FROM certificates UNION ALL
       SELECT serial FROM issuance_intents WHERE status = 'pending'" | sort | uniq -d)"
expect_eq "no device with two certificates" "" \
  "$(pgq p1 -c "SELECT device_id FROM certificates GROUP BY 1 HAVING count(*) > 1")"
expect_eq "every certificate row has its issued event" 0 \
  "$(pgq p1 -c "SELECT count(*) FROM certificates c WHERE NOT EXISTS
       (SELECT 1 FROM enrollment_events e WHERE e.serial = c.serial AND e.outcome = 'issued')")"
echo "rows: $(wc -l <"$T/rows"), received: $n (rows without a delivery: interrupted after Complete)"

# A crash between the two commits, made certain: a session holds a lock that stops Complete's
# insert into certificates, dev-02397's enrollment on replica 0 commits its intent and waits there,
# and replica 0 is killed. Its retry with the same key on replica 1 resumes that intent.
make_csr dev-02397 "$T/pend"
ln -s "$T/fleet/devices/dev-02397/bootstrap.crt" "$T/pend-dev.crt"
ln -s "$T/fleet/devices/dev-02397/bootstrap.key" "$T/pend-dev.key"
PGAPPNAME=locker pgq p1 -c "BEGIN" -c "LOCK TABLE certificates IN SHARE ROW EXCLUSIVE MODE" \
  -c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
locker=$!
for _ in $(seq 1 50); do
  [ "$(pgq p1 -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'locker'
                  AND query LIKE '%pg_sleep%'")" = 1 ] && break
  sleep 0.1
done
post "${REPLICA_PORTS[0]}" "$T/pend-dev" "$T/pend.b64" "$T/pend.out" >"$T/pend.code" &
client=$!
for _ in $(seq 1 100); do
  pend_serial=$(pgq p1 -c "SELECT serial FROM issuance_intents WHERE device_id = 'dev-02397'
                           AND status = 'pending'")
  [ -n "$pend_serial" ] && break
  sleep 0.1
done
kill_replica 0
pgq p1 -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'locker'" \
  >/dev/null
wait "$locker" "$client" 2>/dev/null || true
check "dev-02397's intent committed before the kill ($pend_serial)" test -n "$pend_serial"
expect_eq "... and the device got no certificate" 000 "$(cat "$T/pend.code")"
expect_eq "... its intent is still pending after the lock went" "$pend_serial" \
  "$(pgq p1 -c "SELECT serial FROM issuance_intents WHERE device_id = 'dev-02397' AND status = 'pending'")"

pending=$(pgq p1 -c "SELECT serial FROM issuance_intents WHERE status = 'pending' ORDER BY serial")
echo "pending intents: $(grep -c . <<<"$pending" || true)"
listed=$("$PROVISIOND" list --pending --store "$STORE") || fail "list --pending --store"
expect_eq "list --pending --store lists exactly the pending intents" "$pending" \
  "$(tail -n +2 <<<"$listed" | awk '{print $1}' | sort)"
expect_contains "... dev-02397's among them" "$pend_serial  dev-02397" "$listed"
start_replica 0
expect_eq "dev-02397's same-key retry on replica 1: 200" 200 \
  "$(post "${REPLICA_PORTS[1]}" "$T/pend-dev" "$T/pend.b64" "$T/pend2.out")"
expect_eq "... with the serial of the intent replica 0 left" "$pend_serial" "$(serial_of "$T/pend2.out")"
check "... no longer listed as pending" bash -c \
  "! '$PROVISIOND' list --pending --store '$STORE' | grep -q '$pend_serial'"

# The restarted replicas serve: three devices one after the other through HAProxy (round robin),
# once its health checks (every 1 s, up after one success) have seen the last-killed replica back.
sleep 3
for d in dev-02398 dev-02399 dev-02400; do
  out=$("$DEVICE_SIM" enroll --fleet "$T/fleet" --server "127.0.0.1:$HPORT" --ca-bundle "$CA" \
        --devices "$d" 2>&1 || true)
  expect_contains "$d enrolls after the kills" "enroll: ok=1" "$out"
done
for i in 0 1 2; do
  check "replica $i served after its restarts" bash -c \
    "grep -E '^<5>issued .*device_id=dev-0239[89]|^<5>issued .*device_id=dev-02400' '$T/replica-$i.log'"
done
out=$("$PROVISIOND" audit verify --store "$STORE" 2>&1) || fail "audit verify --store: $out"
expect_contains "audit verify --store" "audit chain ok" "$out"
finish_replicas
