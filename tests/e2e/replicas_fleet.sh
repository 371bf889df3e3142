#!/usr/bin/env bash
# Three replicas on one PostgreSQL behind HAProxy (TCP, send-proxy-v2): fleet_mix.sh's 200-device
# bad-actor mix over TLS 1.3 through the balancer gets the single node's answers class by class,
# certificate rows = good devices + replay set-ups, every replica served, no serial twice, no
# device twice, refusals recorded in the shared events table, and `audit verify --store` passes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/service_lib.sh"
. "$(dirname "$0")/pg_lib.sh"

MIX=good=80,rogue-ca=5,no-cert=5,expired=4,bad-csr=4,replay=2
CLASSES="good rogue-ca no-cert expired bad-csr replay"

pg_init p1
pg_start p1
pg_create_store p1
init_state
"$DEVICE_SIM" factory --out "$T/fleet" --count 200 >/dev/null
REPLICA_ARGS=(--store "$(pg_url p1)" --trust "$T/fleet/factory-ca.crt")
start_replicas 3
start_haproxy

t0=$(date +%s.%N)
rc=0
out=$("$DEVICE_SIM" enroll --fleet "$T/fleet" --server "127.0.0.1:$HPORT" --ca-bundle "$CA" \
      --tls 1.3 --concurrency 50 --mix "$MIX" --json "$T/report.json" 2>"$T/sim.err") || rc=$?
echo "fleet of 200 through HAProxy: $(echo "$(date +%s.%N) - $t0" | bc) s"
printf '%s\n' "$out"
sed 's/^/  stderr: /' "$T/sim.err"
expect_eq "device-sim exits 0" 0 "$rc"
expect_contains "summary line" "enroll: ok=200 failed=0 " "$out"

column() { printf '%s\n' "$out" | awk -v c="$1" -v n="$2" '$1 == c && NF >= 8 { print $n }'; }
declare -A planned=([good]=160 [rogue-ca]=10 [no-cert]=10 [expired]=8 [bad-csr]=8 [replay]=4)
for class in $CLASSES; do
  expect_eq "$class: every enrollment got the single node's outcome" "${planned[$class]} 0" \
    "$(column "$class" 2) $(column "$class" 3)"
done
setups=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["replay_setups"])' \
  "$T/report.json") || fail "report.json does not parse"

expect_eq "certificate rows = good + replay set-ups" "$((160 + setups))" \
  "$(pgq p1 -c 'SELECT count(*) FROM certificates')"
expect_eq "stored operational certificates" "$((160 + setups))" \
  "$(find "$T/fleet/devices" -name operational.crt | wc -l)"
expect_eq "no device got two certificates" 0 \
  "$(pgq p1 -c 'SELECT count(*) FROM (SELECT device_id FROM certificates
                                      GROUP BY 1 HAVING count(*) > 1) d')"
expect_eq "no serial twice across certificates and intents" 0 \
  "$(pgq p1 -c "SELECT count(*) FROM (SELECT serial FROM certificates UNION ALL
       SELECT serial FROM issuance_intents WHERE status = 'pending') s
       GROUP BY serial HAVING count(*) > 1" | wc -l)"
pgq p1 -c "SELECT serial FROM certificates" | sort >"$T/rows"
expect_eq "every stored certificate's serial has its row" "" \
  "$(received_serials "$T/fleet" | sort | comm -23 - "$T/rows")"
for i in 0 1 2; do
  n=$(grep -c '^<5>issued ' "$T/replica-$i.log" || true)
  echo "replica $i issued $n"
  check "replica $i issued certificates (the balancer spread the fleet)" test "$n" -gt 0
done
# Handshake refusals and the CSR and replay refusals are in the one events table, whichever
# replica saw them (failures over a replica's recording budget are summed in 'suppressed' rows).
got=""
for _ in $(seq 1 50); do
  got=$(pgq p1 -c "SELECT (SELECT count(*) FROM enrollment_events WHERE outcome = 'handshake_failed') +
    (SELECT coalesce(sum(split_part(reason, ' ', 1)::int), 0) FROM enrollment_events
     WHERE outcome = 'suppressed')")
  [ "$got" = 28 ] && break
  sleep 0.1
done
expect_eq "handshake failures (rogue-ca + no-cert + expired)" 28 "$got"
events_with() { pgq p1 -c "SELECT count(*) FROM enrollment_events WHERE http_status = $1"; }
expect_eq "refused CSRs (bad-csr)" 8 "$(events_with 400)"
expect_eq "refused replays" 4 "$(events_with 403)"
expect_eq "nothing unexpected on stderr" "" "$(cat "$T/sim.err")"
out=$("$PROVISIOND" audit verify --store "$(pg_url p1)" 2>&1) || fail "audit verify --store: $out"
expect_contains "audit verify --store" "audit chain ok" "$out"

finish_replicas
