#!/usr/bin/env bash
# Malformed or mislabelled handshake messages from a raw-record client (tls_raw.py): each gets the
# fatal alert RFC 8446 names, readable under the keys the client holds at that point ("plain":
# in the clear; "app": the server application keys, after the server's Finished), and the log
# names the alert that was sent. The table is docs/mtls-failures.md, "Malformed handshakes".
. "$(dirname "$0")/lib.sh"
RAW="$(dirname "$0")/tls_raw.py"

make_openssl_ca factory
make_openssl_device factory dev-good
# A P-384 device: its scheme is ecdsa_secp384r1_sha384, which the P-256-only list must not refuse.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -subj "/CN=dev-p384" \
  -keyout "$T/dev-p384.key" -out "$T/dev-p384.req" 2>/dev/null
openssl x509 -req -in "$T/dev-p384.req" -CA "$T/factory.crt" -CAkey "$T/factory.key" \
  -CAcreateserial -days 30 -extfile "$T/leaf.ext" -out "$T/dev-p384.crt" 2>/dev/null
init_state
start_daemon --trust "$T/factory.crt"

raw() { timeout 20 python3 "$RAW" "$PORT" "$@" 2>&1 | tail -1; }
full() { raw "$1" "$T/dev-good.crt" "$T/dev-good.key"; }

# TLS 1.3 with a client certificate; the second flight is where it goes wrong.
expect_eq "correct second flight: the request is answered" "app-data HTTP/1.1 200 OK" "$(full none)"
expect_eq "CertificateVerify with a bad signature" "app decrypt_error" "$(full cv-signature)"
expect_eq "Finished that does not verify" "app decrypt_error" "$(full finished)"
expect_eq "P-256 key, CertificateVerify labelled ecdsa_secp384r1_sha384" "app decrypt_error" \
  "$(full scheme-p384)"
expect_eq "P-384 device (s_client, ecdsa_secp384r1_sha384) gets no alert" "" \
  "$(s_client_alert -tls1_3 -cert "$T/dev-p384.crt" -key "$T/dev-p384.key")"
expect_eq "second-flight record that does not decrypt" "app bad_record_mac" "$(full record)"
# TLS 1.2: the CertificateVerify precedes ChangeCipherSpec, so its alert is in the clear.
expect_eq "TLS 1.2 correct CertificateVerify: the server waits for ChangeCipherSpec" "close" \
  "$(full tls12-cv-ok)"
expect_eq "TLS 1.2 CertificateVerify with a bad signature" "plain decrypt_error" \
  "$(full tls12-cv-signature)"

# A record longer than a TLSInnerPlaintext of 2^14 + 1 bytes can make under our suites' 16-byte
# tag is refused before mbedTLS reads it (daemon/tls/record_screen.cc): record_overflow, whether
# the excess is content or zero padding (mbedTLS alone: bad_record_mac, decode_error, accepted).
expect_eq "ciphertext over 2^14 + 256 bytes" "app record_overflow" "$(full big-ciphertext)"
expect_eq "plaintext over 2^14 bytes" "app record_overflow" "$(full big-plaintext)"
expect_eq "padding past 2^14 + 1 bytes" "app record_overflow" "$(full pad-overflow)"

# Before any key exists: the alert is in the clear.
expect_eq "empty alert record" "plain decode_error" "$(raw empty-alert)"
expect_eq "SSLv2-format record" "plain decode_error" "$(raw sslv2)"
expect_eq "all-zero x25519 key share" "plain illegal_parameter" "$(raw zero-share)"
expect_eq "31-byte x25519 key share" "plain illegal_parameter" "$(raw short-share)"
expect_eq "no common group" "plain handshake_failure" "$(raw no-group)"
expect_eq "ClientHello over 16 KiB" "plain handshake_failure" "$(raw big-hello)"
expect_eq "plaintext record over 2^14 bytes" "plain record_overflow" "$(raw big-record)"
expect_eq "ClientHello split inside its 4-byte header" "plain decode_error" "$(raw split-header)"

for _ in $(seq 1 50); do  # the last failure's log line follows its alert
  [ "$(grep -cE '^<[46]>handshake_(failed|aborted)' "$T/daemon.log")" -ge 15 ] && break
  sleep 0.1
done
log=$(grep -E '^<[46]>handshake_(failed|aborted)' "$T/daemon.log")
for a in 'decrypt_error(51)' 'bad_record_mac(20)' 'decode_error(50)' 'illegal_parameter(47)' \
         'handshake_failure(40)' 'record_overflow(22)'; do
  expect_contains "log names alert=$a" "alert=$a" "$log"
done
expect_eq "decrypt_error logged once per case" 4 "$(grep -c 'alert=decrypt_error(51)' <<<"$log")"
expect_eq "every failure logged with its alert" 16 \
  "$(grep -c '^<4>handshake_failed .* alert=[a-z_]*([0-9]*)$' <<<"$log")"
# The one failure without an alert: tls12-cv-ok's client leaving after its CertificateVerify.
expect_eq "no failure logged without an alert but the client that left" 1 \
  "$(grep -c 'alert=none\|handshake_aborted' <<<"$log" || true)"
stop_daemon
finish
