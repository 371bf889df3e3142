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

log=$(cat "$T/daemon.log")
expect_contains "unknown CA logged with subject and alert" \
  'handshake_failed peer=127.0.0.1:' "$log"
expect_contains "unknown CA reason" 'subject="CN=dev-rogue" reason="client certificate rejected: not trusted" alert=unknown_ca(48)' "$log"
expect_contains "missing cert logged (1.3)" 'reason="no client certificate" alert=certificate_required(116)' "$log"
expect_contains "missing cert logged (1.2)" 'reason="no client certificate" alert=handshake_failure(40)' "$log"
expect_contains "old protocol logged" 'alert=protocol_version(70)' "$log"
expect_eq "warning priority" 5 "$(grep -c '^<4>handshake_failed' "$T/daemon.log")"

rogue_fp=$(openssl x509 -in "$T/dev-rogue.crt" -outform DER | sha256sum | cut -d' ' -f1)
expect_eq "events for the rogue device" 2 \
  "$(sql "SELECT count(*) FROM enrollment_events WHERE endpoint='tls' AND outcome='handshake_failed' AND presented_fingerprint='$rogue_fp'")"
expect_eq "events for missing certificates" 2 \
  "$(sql "SELECT count(*) FROM enrollment_events WHERE endpoint='tls' AND presented_fingerprint='' AND reason LIKE 'no client certificate%'")"
expect_eq "nothing issued" 0 "$(sql 'SELECT count(*) FROM certificates')"

finish
