#!/usr/bin/env bash
# The CA key in a PKCS#11 token (SoftHSM2): init makes the key in the token and no private CA key
# on disk; 1,000 devices enroll through two workers signing at once with zero PKCS#11 errors;
# every certificate and the CRL verify under ca.crt; check-config signs a test value; the same
# token reached through p11-kit's proxy module.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/token_lib.sh"

init_state --ca-key-uri "$TOKEN_URI"
expect_eq "ca.key.uri records the URI (no PIN)" "$TOKEN_URI" "$(cat "$T/state/ca.key.uri")"
check "no ca.key in the state dir" test ! -e "$T/state/ca.key"
expect_eq "the only private key on disk is the TLS server's" "$T/state/server.key" \
  "$(grep -l 'PRIVATE KEY' "$T"/state/* | paste -sd' ')"
check "ca.crt is a self-signed root that verifies" openssl verify -CAfile "$CA" "$CA"
objects=$(pkcs11 --list-objects --type privkey 2>/dev/null)
expect_contains "the token holds the CA key, labelled ca" "label:      ca" "$objects"
expect_contains "sensitive, never extractable" "Access:     sensitive, always sensitive, never extractable, local" "$objects"
expect_contains "sign only" "Usage:      sign" "$objects"
check "the key's public half is ca.crt's" bash -c "
  pkcs11-tool --module '$SOFTHSM_MODULE' --token-label provisiond --read-object --type pubkey \
    --label ca -o '$T/pub.der' 2>/dev/null &&
  [ \"\$(openssl pkey -pubin -inform DER -in '$T/pub.der' -outform DER | sha256sum)\" = \
     \"\$(openssl x509 -in '$CA' -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum)\" ]"

"$DEVICE_SIM" factory --out "$T/fleet" --count 1000 >/dev/null
out=$("$PROVISIOND" check-config --state-dir "$T/state" --trust "$T/fleet/factory-ca.crt" 2>&1) && rc=0 || rc=$?
expect_eq "check-config passes: module, token, key, PIN file, test signature ($out)" 0 "$rc"
start_daemon_metrics --trust "$T/fleet/factory-ca.crt" --crl-listen 127.0.0.1:0
CPORT=$(sed -n 's/.*crl_listening address=127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/daemon.log")
for _ in $(seq 1 50); do  # the probe opens its session in its own thread, then signs
  [ "$(metric provisiond_ca_key_signatures_total)" -ge 1 ] 2>/dev/null && break
  sleep 0.1
done
sessions_at_start=$(metric provisiond_ca_key_sessions_opened_total)
out=$("$DEVICE_SIM" enroll --fleet "$T/fleet" --server "127.0.0.1:$PORT" --ca-bundle "$CA" \
        --concurrency 32 2>&1)
expect_contains "1,000 devices enroll, two workers signing in the token" "enroll: ok=1000 failed=0" "$out"
expect_eq "1,000 certificates recorded" 1000 "$(sql "SELECT count(*) FROM certificates")"
expect_eq "every certificate verifies under ca.crt" 1000 \
  "$(openssl verify -CAfile "$CA" "$T"/fleet/devices/*/operational.crt | grep -c ': OK$')"
metrics=$(curl -s "http://127.0.0.1:$METRICS_PORT/metrics")
expect_eq "zero PKCS#11 errors" "" "$(grep '^provisiond_ca_key_errors_total{' <<<"$metrics" || true)"
expect_eq "one login for the application" 1 "$(metric provisiond_ca_key_logins_total)"
check "the token made the 1,000 signatures" test "$(metric provisiond_ca_key_signatures_total)" -ge 1000
expect_eq "key up" 1 "$(metric provisiond_ca_key_up)"
expect_eq "healthz ok" "ok" "$(curl -s "http://127.0.0.1:$METRICS_PORT/healthz")"
expect_eq "no session reopened: each worker kept its own" "$sessions_at_start" \
  "$(metric provisiond_ca_key_sessions_opened_total)"

"$PROVISIOND" revoke --state-dir "$T/state" --device-id dev-00001 --reason keyCompromise >/dev/null
# The live CRL, signed in the token by its own thread beside the two workers and the probe.
revoked_serial=$(openssl x509 -in "$T/fleet/devices/dev-00001/operational.crt" -noout -serial | cut -d= -f2)
listed=""
for _ in $(seq 1 40); do
  curl -sf "http://127.0.0.1:$CPORT/crl" -o "$T/live.crl" &&
    openssl crl -inform DER -in "$T/live.crl" -noout -text | grep -qi "$revoked_serial" &&
    { listed=yes; break; }
  sleep 0.1
done
expect_eq "the served CRL, signed by the token, lists the revocation within 4 s" yes "$listed"
check "it verifies under ca.crt" openssl crl -inform DER -in "$T/live.crl" -CAfile "$CA" -noout -verify
"$PROVISIOND" crl --state-dir "$T/state" --out "$T/crl.der" >/dev/null
check "the token signs the CRL: openssl crl -verify" \
  openssl crl -inform DER -in "$T/crl.der" -CAfile "$CA" -noout -verify
stop_daemon

# The same token through p11-kit's proxy module (no module-path: p11-kit loads the modules it
# has registered, SoftHSM2 among them, which reads this test's SOFTHSM2_CONF).
proxy_uri="pkcs11:token=provisiond;object=ca?pin-source=file:$HSM/pin"
start_daemon --trust "$T/fleet/factory-ca.crt" --ca-key-uri "$proxy_uri"
expect_contains "serve loads p11-kit-proxy" "p11-kit-proxy" "$(grep 'ca_key' "$T/daemon.log" || true)"
out=$("$DEVICE_SIM" reenroll --fleet "$T/fleet" --server "127.0.0.1:$PORT" --ca-bundle "$CA" \
        --devices dev-00980,dev-00981,dev-00982 2>&1)
expect_contains "devices renew through p11-kit-proxy" "reenroll: ok=3 failed=0" "$out"
check "renewed certificates verify" openssl verify -CAfile "$CA" "$T"/fleet/devices/dev-0098[0-2]/operational.crt
finish
