#!/usr/bin/env bash
# CA rollover with the CA key in a PKCS#11 token (SoftHSM2, #19 part 3). Refusals first: with
# the token unusable (a PIN file others can read, a wrong PIN, the token taken away) `ca rollover` is one line
# and a non-zero exit, and leaves no pending generation, directory or key; a store that refuses
# the new generation after the key was made leaves no key in the token either. Then: devices
# enroll; `ca rollover` generates the new key IN the token (sensitive, never extractable, no key
# file anywhere) and records ca-gen2/ca.key.uri; SIGHUP; activate; SIGHUP; a device renews into
# generation 2 (verified with openssl under the new root) with one login, signed by the same
# module; retire; the old generation's certificate is refused; a restart opens both keys.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/token_lib.sh"

init_state --ca-key-uri "$TOKEN_URI"
"$DEVICE_SIM" factory --out "$T/fleet" --count 3 >/dev/null
ADMIN=(--state-dir "$T/state")

refused() {  # refused DESCRIPTION NEEDLE COMMAND...: non-zero exit, one stderr line with NEEDLE
  local what=$1 needle=$2; shift 2
  local err rc=0
  err=$("$@" 2>&1 >/dev/null) || rc=$?
  if [ "$rc" -ne 0 ] && [ "$(wc -l <<<"$err")" -eq 1 ]; then
    expect_contains "$what" "$needle" "$err"
  else
    fail "$what: exit $rc, stderr: $err"
  fi
}
privkeys() { pkcs11 --list-objects --type privkey 2>/dev/null | grep -c '^Private Key Object' || true; }
nothing_made() {  # nothing_made WHEN: no generation row, no ca-gen2 dir, only the "ca" key
  expect_eq "$1: no generation recorded" 0 "$(sql "SELECT count(*) FROM ca_generations")"
  check "$1: no ca-gen2 directory" test ! -e "$T/state/ca-gen2"
  expect_eq "$1: the token holds the one CA key" 1 "$(privkeys)"
}

chmod 0644 "$HSM/pin"
refused "rollover with a PIN file others can read" "rollover refused: CA generation 1: token PIN" \
  "$PROVISIOND" ca rollover "${ADMIN[@]}"
nothing_made "after the PIN file refusal"
chmod 0600 "$HSM/pin"
cp "$HSM/pin" "$HSM/pin.right" && echo "wrong-$TOKEN_PIN" > "$HSM/pin"
refused "rollover with a wrong PIN" "CKR_PIN_INCORRECT" "$PROVISIOND" ca rollover "${ADMIN[@]}"
cp "$HSM/pin.right" "$HSM/pin"
nothing_made "after the wrong PIN refusal"
mv "$HSM/tokens" "$HSM/away" && mkdir "$HSM/tokens"
refused "rollover with the token taken away" "no token matches" \
  "$PROVISIOND" ca rollover "${ADMIN[@]}"
rmdir "$HSM/tokens" && mv "$HSM/away" "$HSM/tokens"
nothing_made "after the missing token refusal"
# The store refuses the new generation after the key was made (a trigger of the test's own): the
# key pair is destroyed again and the directory removed.
sql "CREATE TRIGGER test_refuse BEFORE INSERT ON ca_generations BEGIN SELECT RAISE(ABORT, 'test refuses'); END"
refused "rollover that the store refuses" "rollover: database" "$PROVISIOND" ca rollover "${ADMIN[@]}"
sql "DROP TRIGGER test_refuse"
nothing_made "after the store refused"

start_daemon_metrics --trust "$T/fleet/factory-ca.crt"
cp "$CA" "$T/bundle.pem"
SIM=("$DEVICE_SIM" --fleet "$T/fleet" --server "127.0.0.1:$PORT" --ca-bundle "$T/bundle.pem")
reloads() { grep -c '<5>reloaded' "$T/daemon.log" || true; }
reload() {  # SIGHUP and wait until the daemon says it reloaded
  local before; before=$(reloads)
  kill -HUP "$DAEMON_PID"
  for _ in $(seq 1 50); do [ "$(reloads)" -gt "$before" ] && return 0; sleep 0.1; done
  fail "no reload after SIGHUP"
}
out=$("${SIM[0]}" enroll "${SIM[@]:1}")
expect_contains "3 devices enroll under the token's generation 1" "enroll: ok=3 failed=0" "$out"

out=$("$PROVISIOND" ca rollover "${ADMIN[@]}" 2>&1) && rc=0 || rc=$?
expect_eq "ca rollover with the key in the token ($out)" 0 "$rc"
expect_contains "it says where the key is" "in the token: pkcs11:token=provisiond;object=ca-gen2" "$out"
expect_eq "generation 2 pending" "2|pending|ca-gen2/ca.key.uri" \
  "$(sql "SELECT gen, state, key_location FROM ca_generations WHERE gen = 2")"
uri2=$(cat "$T/state/ca-gen2/ca.key.uri")
expect_contains "ca.key.uri: the new label" "object=ca-gen2" "$uri2"
expect_contains "ca.key.uri: the same module and PIN file" \
  "?module-path=$SOFTHSM_MODULE&pin-source=file:$HSM/pin" "$uri2"
check "no ca.key in ca-gen2" test ! -e "$T/state/ca-gen2/ca.key"
expect_eq "the only private key on disk is the TLS server's" "$T/state/server.key" \
  "$(grep -rl 'PRIVATE KEY' "$T/state" | paste -sd' ')"
objects=$(pkcs11 --list-objects --type privkey 2>/dev/null)
gen2=$(awk '/^Private Key Object/ {block = ""} {block = block $0 "\n"} /label: +ca-gen2$/ {hit = 1}
            hit && /Access:/ {printf "%s", block; exit}' <<<"$objects")
expect_contains "the token holds the new key, labelled ca-gen2" "label:      ca-gen2" "$gen2"
expect_contains "sensitive, never extractable, made in the token" \
  "Access:     sensitive, always sensitive, never extractable, local" "$gen2"
expect_contains "sign only" "Usage:      sign" "$gen2"
id_uri=$(sed -n 's/.*;id=\([^?;]*\).*/\1/p' <<<"$uri2")
id_uri=$(printf '%b' "${id_uri//%/\\x}" | od -An -tx1 | tr -d ' \n')
expect_eq "ca.key.uri names the new pair's fresh 16-byte CKA_ID" \
  "$(awk '/ID:/ {print $2}' <<<"$gen2")" "$id_uri"
expect_eq "the CKA_ID is 16 bytes" 32 "${#id_uri}"
check "the token's ca-gen2 public key is ca-gen2/ca.crt's" bash -c "
  pkcs11-tool --module '$SOFTHSM_MODULE' --token-label provisiond --read-object --type pubkey \
    --label ca-gen2 -o '$T/pub2.der' 2>/dev/null &&
  [ \"\$(openssl pkey -pubin -inform DER -in '$T/pub2.der' -outform DER | sha256sum)\" = \
     \"\$(openssl x509 -in '$T/state/ca-gen2/ca.crt' -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum)\" ]"
check "NewWithOld verifies under the old root (signed by the token's old key)" \
  openssl verify -partial_chain -CAfile "$CA" "$T/state/ca-gen2/newwithold.crt"
check "OldWithNew verifies under the new root (signed by the token's new key)" \
  openssl verify -partial_chain -CAfile "$T/state/ca-gen2/ca.crt" "$T/state/ca-gen2/oldwithnew.crt"

reload
out=$("${SIM[0]}" reenroll "${SIM[@]:1}" --devices dev-00001 --follow-rollover "$T/bundle.pem")
expect_contains "dev-00001 renews while generation 2 is pending" "reenroll: ok=1 failed=0" "$out"
expect_eq "the followed bundle holds both roots" 2 "$(grep -c 'BEGIN CERTIFICATE' "$T/bundle.pem")"
check "ca activate" "$PROVISIOND" ca activate "${ADMIN[@]}"
reload
out=$("${SIM[0]}" reenroll "${SIM[@]:1}" --devices dev-00002)
expect_contains "an old-generation certificate renews after activate" "reenroll: ok=1 failed=0" "$out"
check "dev-00002's new certificate verifies under generation 2's root" \
  openssl verify -CAfile "$T/state/ca-gen2/ca.crt" "$T/fleet/devices/dev-00002/operational.crt"
expect_eq "and recorded as generation 2" 2 \
  "$(sql "SELECT ca_gen FROM certificates WHERE device_id='dev-00002' ORDER BY id DESC LIMIT 1")"
expect_eq "no reload was refused" "" "$(grep reload_refused "$T/daemon.log" || true)"
expect_eq "one module, one login for both generations' keys" 1 "$(metric provisiond_ca_key_logins_total)"
check "ca retire" "$PROVISIOND" ca retire "${ADMIN[@]}"
reload
out=$("${SIM[0]}" reenroll "${SIM[@]:1}" --devices dev-00003 2>&1 || true)
expect_contains "a retired generation's certificate is refused at the handshake" "unknown_ca" "$out"
# A restart opens generation 1's key and generation 2's through the same module.
stop_daemon
start_daemon --trust "$T/fleet/factory-ca.crt"
SIM[4]="127.0.0.1:$PORT"
out=$("${SIM[0]}" reenroll "${SIM[@]:1}" --devices dev-00002)
expect_contains "after a restart generation 2 (in the token) still issues" "reenroll: ok=1 failed=0" "$out"
check "that certificate verifies under generation 2's root" \
  openssl verify -CAfile "$T/state/ca-gen2/ca.crt" "$T/fleet/devices/dev-00002/operational.crt"
finish
