#!/usr/bin/env bash
# Operator commands against a running daemon: revoke (refused at TLS for re-enrollment),
# deny-bootstrap, the CRL checked by openssl, list, and the tamper-evident audit chain.
. "$(dirname "$0")/lib.sh"

make_openssl_ca factory
for d in dev-r1 dev-r2 dev-r3 dev-deny; do make_openssl_device factory "$d"; done
init_state
start_daemon --trust "$T/factory.crt"
for d in dev-r1 dev-r2 dev-r3; do
  make_csr "$d" "$T/$d-op"
  expect_eq "enroll $d" 200 "$(enroll_curl "$T/$d" "$T/$d-op.b64")"
  tr -d '\r' < "$T/resp.body" | base64 -d | openssl pkcs7 -inform DER -print_certs -out "$T/$d-op.crt"
done
serial_of() { openssl x509 -in "$1" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f'; }
s1=$(serial_of "$T/dev-r1-op.crt")

# -- revoke while the daemon runs: re-enrollment refused at the TLS layer ----------------------
make_csr dev-r1 "$T/new1"
check "revoke by serial" "$PROVISIOND" revoke --state-dir "$T/state" --serial "$s1" --reason keyCompromise
expect_eq "row marked revoked with reason 1" "1" "$(sql "SELECT revocation_reason FROM certificates WHERE serial='$s1' AND revoked_at IS NOT NULL")"
for v in tls1_3 tls1_2; do
  expect_eq "revoked operational cert ($v) -> certificate_revoked" "fatal certificate_revoked" \
    "$(s_client_alert -"$v" -cert "$T/dev-r1-op.crt" -key "$T/dev-r1-op.key")"
done
expect_contains "logged" 'reason="client certificate rejected: operational certificate revoked" alert=certificate_revoked(44)' "$(cat "$T/daemon.log")"
check "revoke --device-id" "$PROVISIOND" revoke --state-dir "$T/state" --device-id dev-r2 --reason superseded
check "revoking again finds nothing" bash -c "! '$PROVISIOND' revoke --state-dir '$T/state' --device-id dev-r2 >/dev/null 2>&1"
make_csr dev-r3 "$T/new3"
expect_eq "unrevoked device still renews" 200 "$(enroll_curl "$T/dev-r3-op" "$T/new3.b64" simplereenroll)"

# -- deny a bootstrap certificate while the daemon runs ---------------------------------------
check "deny-bootstrap --cert" "$PROVISIOND" deny-bootstrap --state-dir "$T/state" --cert "$T/dev-deny.crt"
expect_eq "denylisted bootstrap cert -> certificate_revoked" "fatal certificate_revoked" \
  "$(s_client_alert -tls1_3 -cert "$T/dev-deny.crt" -key "$T/dev-deny.key")"
expect_contains "denylist logged" 'bootstrap certificate denylisted' "$(cat "$T/daemon.log")"
make_openssl_device factory dev-deny2
check "deny-bootstrap by issuer and serial" "$PROVISIOND" deny-bootstrap --state-dir "$T/state" \
  --issuer "CN=factory" --serial "$(serial_of "$T/dev-deny2.crt")"
expect_eq "denied by issuer+serial" "fatal certificate_revoked" \
  "$(s_client_alert -tls1_2 -cert "$T/dev-deny2.crt" -key "$T/dev-deny2.key")"

# -- CRL ----------------------------------------------------------------------------------------
check "crl (DER)" "$PROVISIOND" crl --state-dir "$T/state" --out "$T/crl.der"
check "crl (PEM)" "$PROVISIOND" crl --state-dir "$T/state" --out "$T/crl.pem" --pem
check "openssl verifies the CRL signature" openssl crl -inform DER -in "$T/crl.der" -CAfile "$CA" -noout
crl=$(openssl crl -in "$T/crl.pem" -noout -text)
expect_contains "CRL lists the revoked serial" "$(echo "$s1" | tr 'a-f' 'A-F')" "$crl"
expect_contains "with its reason" "Key Compromise" "$crl"
expect_contains "CRL number increments" "X509v3 CRL Number: " "$crl"
expect_contains "second CRL is number 2" "2" "$(openssl crl -in "$T/crl.pem" -noout -crlnumber)"
expect_contains "has an AKI" "Authority Key Identifier" "$crl"
expect_eq "two revoked certificates in the CRL (dev-r1, dev-r2)" 2 \
  "$(grep -c 'Serial Number:' <<< "$crl")"
check "openssl verify -crl_check rejects the revoked certificate" \
  bash -c "! openssl verify -crl_check -CAfile '$CA' -CRLfile '$T/crl.pem' '$T/dev-r1-op.crt' >/dev/null 2>&1"
check "and accepts an unrevoked one" \
  openssl verify -crl_check -CAfile "$CA" -CRLfile "$T/crl.pem" "$T/dev-r3-op.crt"

# -- list -----------------------------------------------------------------------------------------
expect_eq "list --revoked" 2 "$("$PROVISIOND" list --state-dir "$T/state" --revoked | tail -n +2 | wc -l)"
json=$("$PROVISIOND" list --state-dir "$T/state" --device-id dev-r3 --json)
expect_eq "list --json parses" "dev-r3 dev-r3" \
  "$(python3 -c 'import json,sys; print(" ".join(r["device_id"] for r in json.loads(sys.argv[1])))' "$json")"
expect_eq "list --expiring-within 91d (unrevoked only)" 2 \
  "$("$PROVISIOND" list --state-dir "$T/state" --expiring-within 91d | tail -n +2 | wc -l)"
expect_eq "list --expiring-within 30d" 0 \
  "$("$PROVISIOND" list --state-dir "$T/state" --expiring-within 30d | tail -n +2 | wc -l)"
expect_eq "view active_certificates" 2 "$(sql 'SELECT count(*) FROM active_certificates')"

# -- tamper-evident audit ---------------------------------------------------------------------------
check "audit verify on the untouched chain" "$PROVISIOND" audit verify --state-dir "$T/state"
# A deleted row: work on a copy (the daemon is stopped first so the copy is consistent).
stop_daemon
cp -r "$T/state" "$T/copy"
gone=$(sqlite3 "$T/copy/provisiond.db" "SELECT id FROM enrollment_events ORDER BY id LIMIT 1 OFFSET 2")
sqlite3 "$T/copy/provisiond.db" "DELETE FROM enrollment_events WHERE id=$gone"
out=$("$PROVISIOND" audit verify --state-dir "$T/copy" || true)
expect_contains "deleted row: the row after it is named" "BROKEN at row $((gone + 1))" "$out"
victim=$(sql "SELECT id FROM enrollment_events WHERE outcome='issued' ORDER BY id LIMIT 1 OFFSET 1")
sql "UPDATE enrollment_events SET reason='nothing to see' WHERE id=$victim"
out=$("$PROVISIOND" audit verify --state-dir "$T/state" || true)
expect_contains "altered row is named" "BROKEN at row $victim" "$out"
check "exit status says so" bash -c "! '$PROVISIOND' audit verify --state-dir '$T/state' >/dev/null"

finish
