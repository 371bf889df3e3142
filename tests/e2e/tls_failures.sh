#!/usr/bin/env bash
# Handshake failures: each one ends with the right fatal alert as openssl s_client sees it on the
# wire, a warning log line naming the peer and reason, an enrollment_events row, and no issuance.
. "$(dirname "$0")/lib.sh"

make_openssl_ca factory
make_openssl_ca rogue
make_openssl_device factory dev-good
make_openssl_device rogue dev-rogue
init_state
start_daemon --trust "$T/factory.crt"

for v in tls1_3 tls1_2; do
  expect_eq "unknown CA ($v)" "fatal unknown_ca" \
    "$(s_client_alert -"$v" -cert "$T/dev-rogue.crt" -key "$T/dev-rogue.key")"
done
expect_eq "no client certificate (TLS 1.3)" "fatal certificate_required" "$(s_client_alert -tls1_3)"
expect_eq "no client certificate (TLS 1.2)" "fatal handshake_failure" "$(s_client_alert -tls1_2)"
expect_eq "TLS 1.1 refused" "fatal protocol_version" \
  "$(s_client_alert -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' -cert "$T/dev-good.crt" -key "$T/dev-good.key")"
# A good device still completes the handshake.
expect_eq "good device gets no alert" "" \
  "$(s_client_alert -tls1_3 -cert "$T/dev-good.crt" -key "$T/dev-good.key" | grep fatal || true)"

# Bad bootstrap certificates from the real factory CA (device-sim makes them), seen by s_client.
"$DEVICE_SIM" factory --out "$T/fleet" --count 1 --prefix ok- >/dev/null
for kind in expired not-yet-valid no-client-eku ca-leaf; do
  "$DEVICE_SIM" factory --out "$T/fleet" --count 1 --prefix "$kind-" --kind "$kind" >/dev/null
done
stop_daemon
start_daemon --trust "$T/factory.crt" --trust "$T/fleet/factory-ca.crt"
dev() { echo "-cert $T/fleet/devices/$1-00001/bootstrap.crt -key $T/fleet/devices/$1-00001/bootstrap.key"; }
for v in tls1_3 tls1_2; do
  # shellcheck disable=SC2046
  expect_eq "expired bootstrap ($v)" "fatal certificate_expired" "$(s_client_alert -"$v" $(dev expired))"
  # shellcheck disable=SC2046
  expect_eq "not yet valid bootstrap ($v)" "fatal certificate_expired" "$(s_client_alert -"$v" $(dev not-yet-valid))"
  # shellcheck disable=SC2046
  expect_eq "EKU without clientAuth ($v)" "fatal unsupported_certificate" "$(s_client_alert -"$v" $(dev no-client-eku))"
  # shellcheck disable=SC2046
  expect_eq "CA:TRUE leaf ($v)" "fatal unsupported_certificate" "$(s_client_alert -"$v" $(dev ca-leaf))"
done

# Chains through intermediates that may not issue: a CA:FALSE "intermediate", and a root whose
# pathLenConstraint 0 forbids the intermediate below it from signing.
ext() { printf '%s\n' "$@" > "$T/x.ext"; }
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj "/CN=Root PL0" \
  -keyout "$T/rootpl0.key" -out "$T/rootpl0.crt" \
  -addext "basicConstraints=critical,CA:TRUE,pathlen:0" -addext "keyUsage=critical,keyCertSign" 2>/dev/null
for parent in factory rootpl0; do
  if [ "$parent" = factory ]; then ext "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature,keyCertSign"
  else ext "basicConstraints=critical,CA:TRUE" "keyUsage=critical,keyCertSign"; fi
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=Sub of $parent" \
    -keyout "$T/sub-$parent.key" -out "$T/sub-$parent.req" 2>/dev/null
  openssl x509 -req -in "$T/sub-$parent.req" -CA "$T/$parent.crt" -CAkey "$T/$parent.key" \
    -CAcreateserial -days 30 -extfile "$T/x.ext" -out "$T/sub-$parent.crt" 2>/dev/null
  make_openssl_device "sub-$parent" "dev-via-$parent"
  cat "$T/dev-via-$parent.crt" "$T/sub-$parent.crt" > "$T/dev-via-$parent.chain"
done
stop_daemon
start_daemon --trust "$T/factory.crt" --trust "$T/rootpl0.crt"
for v in tls1_3 tls1_2; do
  expect_eq "intermediate that is not a CA ($v)" "fatal unknown_ca" \
    "$(s_client_alert -"$v" -cert "$T/dev-via-factory.chain" -key "$T/dev-via-factory.key")"
  expect_eq "intermediate below pathLen 0 ($v)" "fatal unknown_ca" \
    "$(s_client_alert -"$v" -cert "$T/dev-via-rootpl0.chain" -key "$T/dev-via-rootpl0.key")"
done
cat "$T"/daemon.log.* "$T/daemon.log" > "$T/all.log" 2>/dev/null || true
log=$(cat "$T/all.log")
expect_contains "unknown CA logged with subject and alert" \
  'handshake_failed peer=127.0.0.1:' "$log"
expect_contains "unknown CA reason" 'subject="CN=dev-rogue" reason="client certificate rejected: not trusted" alert=unknown_ca(48)' "$log"
expect_contains "missing cert logged (1.3)" 'reason="no client certificate" alert=certificate_required(116)' "$log"
expect_contains "missing cert logged (1.2)" 'reason="no client certificate" alert=handshake_failure(40)' "$log"
expect_contains "old protocol logged" 'alert=protocol_version(70)' "$log"
expect_contains "expired logged" 'subject="CN=expired-00001" reason="client certificate rejected: expired" alert=certificate_expired(45)' "$log"
expect_contains "CA leaf logged" 'reason="client certificate rejected: key usage or CA leaf" alert=unsupported_certificate(43)' "$log"
expect_contains "EKU logged" 'reason="client certificate rejected: extended key usage excludes clientAuth" alert=unsupported_certificate(43)' "$log"
expect_eq "one warning line per failed connection" 17 "$(grep -c '^<4>handshake_failed' "$T/all.log")"

rogue_fp=$(openssl x509 -in "$T/dev-rogue.crt" -outform DER | sha256sum | cut -d' ' -f1)
expect_sql_eventually "events for the rogue device" 2 \
  "SELECT count(*) FROM enrollment_events WHERE endpoint='tls' AND outcome='handshake_failed' AND presented_fingerprint=X'$rogue_fp'"
expect_sql_eventually "events for missing certificates" 2 \
  "SELECT count(*) FROM enrollment_events WHERE endpoint='tls' AND presented_fingerprint IS NULL AND reason LIKE 'no client certificate%'"
expect_sql_eventually "every failed handshake recorded" 17 \
  "SELECT count(*) FROM enrollment_events WHERE endpoint='tls' AND outcome='handshake_failed'"
expect_eq "nothing issued" 0 "$(sql 'SELECT count(*) FROM certificates')"

finish
