#!/usr/bin/env bash
# A pending issuance across `ca activate` (#19 part 3, docs/rollover.md): an intent reserved under
# generation 1 and left pending (the certificate insert fails) is completed by the device's
# same-key retry after the activation, signed by generation 1 (now previous) exactly as the store
# committed it: one certificate for the intent, recorded as generation 1's; after a reload and
# after a restart alike. After `ca retire` such an intent is refused (intent mismatch) and stays
# pending, as before.
. "$(dirname "$0")/lib.sh"

make_openssl_ca factory
init_state
start_daemon --trust "$T/factory.crt"
ADMIN=(--state-dir "$T/state")
GEN1="$T/state/ca.crt"
GEN2="$T/state/ca-gen2/ca.crt"
reloads() { grep -c '<5>reloaded' "$T/daemon.log" || true; }
reload() {
  local before; before=$(reloads)
  kill -HUP "$DAEMON_PID"
  for _ in $(seq 1 50); do [ "$(reloads)" -gt "$before" ] && return 0; sleep 0.1; done
  fail "no reload after SIGHUP"
}
body_cert() {  # the certificate of the last 200 (certs-only PKCS#7, base64)
  base64 -di "$T/resp.body" | openssl pkcs7 -inform DER -print_certs | openssl x509
}

sql "CREATE TRIGGER refuse_all BEFORE INSERT ON certificates BEGIN SELECT RAISE(ABORT, 'injected fault'); END;"
for dev in dev-p1 dev-p2 dev-p3; do
  make_openssl_device factory "$dev"
  make_csr "$dev" "$T/$dev-csr"
  expect_eq "$dev: failed Complete -> 500" 500 "$(enroll_curl "$T/$dev" "$T/$dev-csr.b64")"
done
sql "DROP TRIGGER refuse_all;"
p1_serial=$(sql "SELECT serial FROM issuance_intents WHERE device_id = 'dev-p1'")
check "ca rollover" "$PROVISIOND" ca rollover "${ADMIN[@]}" >/dev/null
reload
check "ca activate" "$PROVISIOND" ca activate "${ADMIN[@]}" >/dev/null
reload

# After the activation, through a reload: generation 1 (previous) signs the committed TBS.
expect_eq "dev-p1's retry after activate -> 200" 200 "$(enroll_curl "$T/dev-p1" "$T/dev-p1-csr.b64")"
body_cert > "$T/p1.crt"
expect_eq "with the reserved serial" "$p1_serial" \
  "$(openssl x509 -in "$T/p1.crt" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f')"
check "signed by generation 1 (previous)" openssl verify -CAfile "$GEN1" "$T/p1.crt"
expect_eq "one certificate for the intent, recorded as generation 1's" "1|1" \
  "$(sql "SELECT count(*), max(ca_gen) FROM certificates WHERE device_id = 'dev-p1'")"
expect_eq "the intent is closed (Complete removed it with the certificate's insert)" 0 \
  "$(sql "SELECT count(*) FROM issuance_intents WHERE device_id = 'dev-p1'")"
expect_eq "a second retry gets the same certificate" 200 "$(enroll_curl "$T/dev-p1" "$T/dev-p1-csr.b64")"
expect_eq "still one certificate" 1 "$(sql "SELECT count(*) FROM certificates WHERE device_id = 'dev-p1'")"
# A new device enrolls under generation 2 meanwhile.
make_openssl_device factory dev-n1
make_csr dev-n1 "$T/dev-n1-csr"
expect_eq "a new enrollment -> 200" 200 "$(enroll_curl "$T/dev-n1" "$T/dev-n1-csr.b64")"
check "signed by generation 2 (active)" bash -c "$(declare -f body_cert); T='$T' body_cert | openssl verify -CAfile '$GEN2'"

# After a restart (the previous generation's issuer made at start).
stop_daemon
start_daemon --trust "$T/factory.crt"
expect_eq "dev-p2's retry after a restart -> 200" 200 "$(enroll_curl "$T/dev-p2" "$T/dev-p2-csr.b64")"
check "signed by generation 1" bash -c "$(declare -f body_cert); T='$T' body_cert | openssl verify -CAfile '$GEN1'"
expect_eq "one certificate, generation 1's" "1|1" \
  "$(sql "SELECT count(*), max(ca_gen) FROM certificates WHERE device_id = 'dev-p2'")"

# After retire: generation 1 signs nothing more; the intent is refused and stays pending.
check "ca retire" "$PROVISIOND" ca retire "${ADMIN[@]}" >/dev/null
reload
cat "$GEN1" "$GEN2" > "$T/both.pem"
CA="$T/both.pem"  # the server now presents generation 2's server certificate
expect_eq "dev-p3's retry after retire -> 500" 500 "$(enroll_curl "$T/dev-p3" "$T/dev-p3-csr.b64")"
expect_eq "no certificate for it" 0 "$(sql "SELECT count(*) FROM certificates WHERE device_id = 'dev-p3'")"
expect_eq "its intent still pending" pending "$(sql "SELECT status FROM issuance_intents WHERE device_id = 'dev-p3'")"
check "audit verify" "$PROVISIOND" audit verify "${ADMIN[@]}"
finish
