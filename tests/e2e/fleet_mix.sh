#!/usr/bin/env bash
# fleet_mix.sh — device-sim as a fleet with bad actors: 200 devices, 50 enrollments in flight over
# TLS 1.3, good devices mixed with rogue-CA, certificate-less and expired client certificates,
# broken CSRs and replays. Every class must get exactly its expected outcome, certificates go only
# to good devices (and to the enrollments that set up a replay), and the --json report says the
# same. Asserts outcomes, never timings.
# replay expects 403 from the one-certificate-per-bootstrap-certificate policy. A shorter TLS 1.2
# pass follows: there the server refuses client certificates inside the handshake, while the
# client may still be sending its flight.
. "$(dirname "$0")/lib.sh"

MIX=good=80,rogue-ca=5,no-cert=5,expired=4,bad-csr=4,replay=2
CLASSES="good rogue-ca no-cert expired bad-csr replay"

init_state
"$DEVICE_SIM" factory --out "$T/fleet" --count 200 >/dev/null
start_daemon --trust "$T/fleet/factory-ca.crt"

rc=0
out=$("$DEVICE_SIM" enroll --fleet "$T/fleet" --server "127.0.0.1:$PORT" --ca-bundle "$CA" \
      --tls 1.3 --concurrency 50 --mix "$MIX" --json "$T/report.json" 2>"$T/sim.err") || rc=$?
printf '%s\n' "$out"
sed 's/^/  stderr: /' "$T/sim.err"
expect_eq "device-sim exits 0" 0 "$rc"
expect_contains "summary line" "enroll: ok=200 failed=0 " "$out"

# The class table: "<class> <ok> <failed> ...". 200 slots are two whole periods of the mix, so the
# per-class counts are exact whatever the thread timing.
column() { printf '%s\n' "$out" | awk -v c="$1" -v n="$2" '$1 == c && NF >= 8 { print $n }'; }
declare -A planned=([good]=160 [rogue-ca]=10 [no-cert]=10 [expired]=8 [bad-csr]=8 [replay]=4)
for class in $CLASSES; do
  expect_eq "$class: every enrollment got its expected outcome" "${planned[$class]} 0" \
    "$(column "$class" 2) $(column "$class" 3)"
done

# The JSON report parses and holds the same.
json=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
c = d["classes"]
print(" ".join("%s=%d/%d" % (k, c[k]["ok"], c[k]["failed"]) for k in sys.argv[2].split()))
print(d["ok"], d["failed"], d["replay_setups"], len(d["all"]["histogram"]) > 1)
print(d["settings"]["tls"], d["settings"]["key_share"])
' "$T/report.json" "$CLASSES") || fail "report.json does not parse"
expect_eq "json: classes ok/failed" \
  "good=160/0 rogue-ca=10/0 no-cert=10/0 expired=8/0 bad-csr=8/0 replay=4/0" "$(sed -n 1p <<<"$json")"
read -r json_ok json_failed setups has_histogram <<<"$(sed -n 2p <<<"$json")"
expect_eq "json: totals" "200 0 True" "$json_ok $json_failed $has_histogram"
expect_eq "json: TLS settings (default key share)" "1.3 secp256r1" "$(sed -n 3p <<<"$json")"

# Certificates: one per good device plus one per replay set-up enrollment, each stored by its
# device; the server saw every refusal for the reason the class stands for.
expect_eq "certificate rows = good + replay set-ups" "$((160 + setups))" \
  "$(sql 'SELECT count(*) FROM certificates')"
expect_eq "stored operational certificates" "$((160 + setups))" \
  "$(find "$T/fleet/devices" -name operational.crt | wc -l)"
expect_eq "no device got two certificates" 0 \
  "$(sql 'SELECT count(*) FROM (SELECT device_id FROM certificates GROUP BY 1 HAVING count(*) > 1)')"
# Unauthenticated failures over the daemon's recording budget are summed up in 'suppressed' rows
# whose reason starts with the count (docs/security.md, issue #12 finding 3).
expect_sql_eventually "handshake failures (rogue-ca + no-cert + expired)" 28 \
  "SELECT (SELECT count(*) FROM enrollment_events WHERE outcome = 'handshake_failed') +
          (SELECT coalesce(sum(CAST(reason AS INTEGER)), 0) FROM enrollment_events
           WHERE outcome = 'suppressed')"
expect_eq "refused CSRs (bad-csr)" 8 "$(sql 'SELECT count(*) FROM enrollment_events WHERE http_status = 400')"
expect_eq "refused replays" 4 "$(sql 'SELECT count(*) FROM enrollment_events WHERE http_status = 403')"
expect_eq "nothing unexpected on stderr" "" "$(cat "$T/sim.err")"

# TLS 1.2: no-cert now expects handshake_failure (40); 100 slots are one period of the mix.
"$DEVICE_SIM" factory --out "$T/fleet" --count 100 --prefix v12- >/dev/null
rows_before=$(sql 'SELECT count(*) FROM certificates')
rc=0
out=$("$DEVICE_SIM" enroll --fleet "$T/fleet" --server "127.0.0.1:$PORT" --ca-bundle "$CA" \
      --devices "$(seq -f 'v12-%05g' 1 100 | paste -sd,)" \
      --tls 1.2 --concurrency 50 --mix "$MIX" --json "$T/report12.json" 2>&1) || rc=$?
printf '%s\n' "$out"
expect_eq "TLS 1.2: device-sim exits 0" 0 "$rc"
expect_contains "TLS 1.2: no-cert expects handshake_failure" "tls alert 40 handshake_failure" "$out"
declare -A planned12=([good]=80 [rogue-ca]=5 [no-cert]=5 [expired]=4 [bad-csr]=4 [replay]=2)
for class in $CLASSES; do
  expect_eq "TLS 1.2 $class: every enrollment got its expected outcome" "${planned12[$class]} 0" \
    "$(column "$class" 2) $(column "$class" 3)"
done
setups12=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["replay_setups"])' \
  "$T/report12.json")
expect_eq "TLS 1.2: certificate rows = good + replay set-ups" "$((rows_before + 80 + setups12))" \
  "$(sql 'SELECT count(*) FROM certificates')"

finish
