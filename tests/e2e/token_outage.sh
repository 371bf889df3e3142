#!/usr/bin/env bash
# The token goes away under a running daemon (SoftHSM2's token directory moved out, then back):
# enrollments get 503 + Retry-After and nothing is recorded as issued, /healthz and
# provisiond_ca_key_up say so, and the daemon signs again by itself when the token is back (same
# process); the interrupted devices' retries get certificates that verify.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/token_lib.sh"

init_state --ca-key-uri "$TOKEN_URI"
"$DEVICE_SIM" factory --out "$T/fleet" --count 30 >/dev/null
start_daemon_metrics --trust "$T/fleet/factory-ca.crt" --retry-after 2
pid=$DAEMON_PID
SIM=("$DEVICE_SIM" --fleet "$T/fleet" --server "127.0.0.1:$PORT" --ca-bundle "$CA")
out=$("${SIM[0]}" enroll "${SIM[@]:1}" --devices "$(seq -f 'dev-%05g' 1 10 | paste -sd,)" 2>&1)
expect_contains "10 devices enroll with the token present" "enroll: ok=10 failed=0" "$out"

mv "$HSM/tokens" "$HSM/tokens.away"
# An enrollment while the token is away: 503 with Retry-After, straight from the signing step.
make_csr dev-00011 "$T/dev11"
dev11() {
  curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' --cacert "$CA" \
    --cert "$T/fleet/devices/dev-00011/bootstrap.crt" --key "$T/fleet/devices/dev-00011/bootstrap.key" \
    -H 'Content-Type: application/pkcs10' --data-binary @"$T/dev11.b64" "$EST/simpleenroll"
}
expect_eq "enrollment while the token is away: 503" 503 "$(dev11)"
# --retry-after 2, jittered over [1, 3] (daemon/retry_after.h).
after=$(tr -d '\r' <"$T/headers" | sed -n 's/^Retry-After: //p')
expect_eq "Retry-After in [1, 3]" ok "$( ((after >= 1 && after <= 3)) && echo ok || echo "$after")"
expect_contains "the reason" "CA key unavailable" "$(cat "$T/body")"
# Nine devices enroll meanwhile, retrying with the same key as Retry-After says.
"${SIM[0]}" enroll "${SIM[@]:1}" --devices "$(seq -f 'dev-%05g' 12 20 | paste -sd,)" \
  --concurrency 9 --max-retries 10 >"$T/sim.out" 2>&1 &
sim=$!
sleep 1.5
expect_eq "healthz 503 naming the key" "CA key unavailable" \
  "$(curl -s "http://127.0.0.1:$METRICS_PORT/healthz" | cut -c1-18)"
expect_eq "provisiond_ca_key_up 0" 0 "$(metric provisiond_ca_key_up)"
expect_eq "nothing recorded as issued while away" 10 "$(sql "SELECT count(*) FROM certificates")"
expect_eq "the interrupted issuances are pending intents" 10 \
  "$(sql "SELECT count(*) FROM issuance_intents WHERE status = 'pending'")"
check "the refusals are counted" bash -c "curl -s http://127.0.0.1:$METRICS_PORT/metrics |
  grep -q 'outcome=\"ca_key_unavailable\"'"

mv "$HSM/tokens.away" "$HSM/tokens"
up=""
for _ in $(seq 1 50); do
  [ "$(curl -s "http://127.0.0.1:$METRICS_PORT/healthz")" = ok ] && { up=yes; break; }
  sleep 0.1
done
expect_eq "healthz ok again within 5 s, without a restart" yes "$up"
expect_eq "provisiond_ca_key_up 1" 1 "$(metric provisiond_ca_key_up)"
wait "$sim" || true
out=$(cat "$T/sim.out")
expect_contains "the nine devices' retries are signed" "enroll: ok=9 failed=0" "$out"
check "they were told to retry" grep -qE '[1-9][0-9]* retries after 503' "$T/sim.out"
expect_eq "dev-00011's retry with the same CSR is signed" 200 "$(dev11)"
expect_eq "no refusal but 503" "" \
  "$(grep -o 'status=[0-9]*' "$T/daemon.log" | grep -v 'status=503' | sort -u)"
expect_eq "20 certificates recorded" 20 "$(sql "SELECT count(*) FROM certificates")"
expect_eq "the fleet's 19 verify under ca.crt" 19 \
  "$(openssl verify -CAfile "$CA" "$T"/fleet/devices/*/operational.crt | grep -c ': OK$')"
expect_eq "the outage is logged once, not once a second" 1 \
  "$(grep -c '^<3>ca_key_unavailable reason=' "$T/daemon.log")"
check "and the recovery" grep -q '^<5>ca_key_available ' "$T/daemon.log"

# The PIN changed under the running daemon (it read the old one at start), and the login is lost
# (the token's directory away and back: the module is initialised again): the token refuses the
# old PIN once, and no login is tried again (a real token locks the PIN after a few failures).
pkcs11 --change-pin --new-pin "changed-$TOKEN_PIN" >/dev/null 2>&1
mv "$HSM/tokens" "$HSM/tokens.away"
sleep 1.5
mv "$HSM/tokens.away" "$HSM/tokens"
sleep 3
pin_errors() {
  curl -s "http://127.0.0.1:$METRICS_PORT/metrics" |
    awk '$1 == "provisiond_ca_key_errors_total{code=\"CKR_PIN_INCORRECT\"}" {print $2}'
}
expect_eq "one C_Login with the old PIN, not one a second" 1 "$(pin_errors)"
expect_contains "healthz names the refused PIN" "CKR_PIN_INCORRECT" \
  "$(curl -s "http://127.0.0.1:$METRICS_PORT/healthz")"
make_csr dev-00021 "$T/dev21"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA" \
  --cert "$T/fleet/devices/dev-00021/bootstrap.crt" --key "$T/fleet/devices/dev-00021/bootstrap.key" \
  -H 'Content-Type: application/pkcs10' --data-binary @"$T/dev21.b64" "$EST/simpleenroll")
expect_eq "an enrollment meanwhile: 503" 503 "$code"
sleep 2
expect_eq "still one C_Login with the old PIN" 1 "$(pin_errors)"
check "same process" kill -0 "$pid"
finish
