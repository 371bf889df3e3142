#!/usr/bin/env bash
# CA rollover and the CRL and server certificate (#19 part 3, docs/rollover.md): after `ca
# activate` each generation still trusted has its own CRL (/crl generation 1's, /crl-gen2
# generation 2's), signed by its own key with its own AKI and listing only its own revoked
# certificates, numbered by one counter; each certificate's distribution point names its
# generation's CRL; openssl verify -crl_check works for both. `ca rollover` issues the server
# certificate under the new generation (same key and names); serve presents it once the old
# generation is retired (a device-sim holding only the new root then verifies the server), the
# old one before (a device holding only the old root verifies it).
. "$(dirname "$0")/lib.sh"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

init_state
"$DEVICE_SIM" factory --out "$T/fleet" --count 4 >/dev/null
CPORT=$(free_port)
CRL="http://127.0.0.1:$CPORT/crl"
start_daemon --trust "$T/fleet/factory-ca.crt" --crl-listen "127.0.0.1:$CPORT" --crl-url "$CRL"
cp "$CA" "$T/bundle.pem"
SIM=("$DEVICE_SIM" --fleet "$T/fleet" --server "127.0.0.1:$PORT" --ca-bundle "$T/bundle.pem")
ADMIN=(--state-dir "$T/state")
GEN1="$CA"
GEN2="$T/state/ca-gen2/ca.crt"
op() { echo "$T/fleet/devices/$1/operational.crt"; }
serial_of() { openssl x509 -in "$1" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f'; }
reloads() { grep -c '<5>reloaded' "$T/daemon.log" || true; }
reload() {
  local before; before=$(reloads)
  kill -HUP "$DAEMON_PID"
  for _ in $(seq 1 50); do [ "$(reloads)" -gt "$before" ] && return 0; sleep 0.1; done
  fail "no reload after SIGHUP"
}
# fetch PATH OUT: the served CRL as PEM once it lists every serial given after OUT.
fetch() {
  local path=$1 out=$2; shift 2
  for _ in $(seq 1 50); do
    if curl -sS --fail --max-time 2 -o "$out.der" "http://127.0.0.1:$CPORT$path" 2>/dev/null &&
       openssl crl -inform DER -in "$out.der" -out "$out" 2>/dev/null; then
      local all=1 s
      for s in "$@"; do
        openssl crl -in "$out" -noout -text | grep -qi "Serial Number: $s" || all=0
      done
      [ "$all" = 1 ] && return 0
    fi
    sleep 0.1
  done
  fail "$path never listed $*"
}
handshake_ok() {  # handshake_ok BUNDLE: openssl verifies the server under BUNDLE alone
  local dev="$T/fleet/devices/dev-00004"
  openssl s_client -connect "127.0.0.1:$PORT" -servername localhost -CAfile "$1" \
    -verify_return_error -cert "$dev/bootstrap.crt" -key "$dev/bootstrap.key" </dev/null 2>&1 |
    grep -q 'Verify return code: 0 (ok)'
}

expect_contains "3 devices enroll under generation 1" "enroll: ok=3 failed=0" \
  "$("${SIM[0]}" enroll "${SIM[@]:1}" --devices dev-00001,dev-00002,dev-00003)"
check "ca rollover" "$PROVISIOND" ca rollover "${ADMIN[@]}"
S2="$T/state/ca-gen2/server.crt"
check "rollover issued generation 2's server certificate" openssl verify -CAfile "$GEN2" "$S2"
expect_eq "with the server key" "$(openssl x509 -in "$T/state/server.crt" -noout -pubkey)" \
  "$(openssl x509 -in "$S2" -noout -pubkey)"
expect_eq "and the server's names" \
  "$(openssl x509 -in "$T/state/server.crt" -noout -subject -ext subjectAltName)" \
  "$(openssl x509 -in "$S2" -noout -subject -ext subjectAltName)"
reload
cat "$GEN2" >> "$T/bundle.pem"  # the devices follow the rollover (ca_rollover.sh tests how)
check "ca activate" "$PROVISIOND" ca activate "${ADMIN[@]}"
reload
cp "$(op dev-00003)" "$T/dev3-gen1.crt"
expect_contains "dev-00002 and dev-00003 renew into generation 2" "reenroll: ok=2 failed=0" \
  "$("${SIM[0]}" reenroll "${SIM[@]:1}" --devices dev-00002,dev-00003)"
check "dev-00002's certificate is generation 2's" openssl verify -CAfile "$GEN2" "$(op dev-00002)"
expect_contains "generation 1's certificate names /crl" "URI:$CRL"$'\n' \
  "$(openssl x509 -in "$T/fleet/devices/dev-00001/operational.crt" -noout -ext crlDistributionPoints)"
expect_contains "generation 2's names /crl-gen2" "URI:$CRL-gen2" \
  "$(openssl x509 -in "$(op dev-00002)" -noout -ext crlDistributionPoints)"

s1=$(serial_of "$(op dev-00001)")
s2=$(serial_of "$(op dev-00002)")
"$PROVISIOND" revoke "${ADMIN[@]}" --serial "$s1" --reason keyCompromise >/dev/null
"$PROVISIOND" revoke "${ADMIN[@]}" --serial "$s2" --reason keyCompromise >/dev/null
fetch /crl "$T/gen1.pem" "$s1"
fetch /crl-gen2 "$T/gen2.pem" "$s2"
crl_ok() { openssl crl -in "$1" -CAfile "$2" -noout 2>&1 | grep -q 'verify OK'; }
check "/crl verifies under generation 1's root" crl_ok "$T/gen1.pem" "$GEN1"
# openssl crl exits 0 either way: its verdict is the line "verify OK" or "verify failure".
check "/crl does not verify under generation 2's" bash -c "! openssl crl -in '$T/gen1.pem' -CAfile '$GEN2' -noout 2>&1 | grep -q 'verify OK'"
check "/crl-gen2 verifies under generation 2's root" crl_ok "$T/gen2.pem" "$GEN2"
check "/crl-gen2 does not verify under generation 1's" bash -c "! openssl crl -in '$T/gen2.pem' -CAfile '$GEN1' -noout 2>&1 | grep -q 'verify OK'"
entries() { openssl crl -in "$1" -noout -text | grep -c 'Serial Number' || true; }
expect_eq "/crl lists generation 1's revocation alone" 1 "$(entries "$T/gen1.pem")"
expect_eq "/crl-gen2 lists generation 2's alone" 1 "$(entries "$T/gen2.pem")"
aki() { openssl crl -in "$1" -noout -text | grep -A1 'Authority Key Identifier' | tail -1 | tr -d ' ' | sed 's/^keyid://'; }
ski() { openssl x509 -in "$1" -noout -ext subjectKeyIdentifier | tail -1 | tr -d ' '; }
expect_eq "/crl's AKI is generation 1's key" "$(ski "$GEN1")" "$(aki "$T/gen1.pem")"
expect_eq "/crl-gen2's AKI is generation 2's key" "$(ski "$GEN2")" "$(aki "$T/gen2.pem")"
n1=$(openssl crl -in "$T/gen1.pem" -noout -crlnumber | cut -d= -f2)
n2=$(openssl crl -in "$T/gen2.pem" -noout -crlnumber | cut -d= -f2)
check "one counter: the two CRL numbers differ ($((n1)), $((n2)))" test "$((n1))" -ne "$((n2))"
rp() { openssl verify -crl_check -CAfile "$1" -CRLfile "$2" "$3" >/dev/null 2>&1; }
check "relying party: generation 1's revoked certificate refused" bash -c "! openssl verify -crl_check -CAfile '$GEN1' -CRLfile '$T/gen1.pem' '$(op dev-00001)' >/dev/null 2>&1"
check "relying party: generation 2's revoked certificate refused" bash -c "! openssl verify -crl_check -CAfile '$GEN2' -CRLfile '$T/gen2.pem' '$(op dev-00002)' >/dev/null 2>&1"
check "relying party: generation 1's other certificate accepted" rp "$GEN1" "$T/gen1.pem" "$T/dev3-gen1.crt"
check "relying party: generation 2's other certificate accepted" rp "$GEN2" "$T/gen2.pem" "$(op dev-00003)"
# The offline command writes the same CRL per generation (daemon/admin_crl.h).
for g in 1 2; do
  "$PROVISIOND" crl "${ADMIN[@]}" --generation "$g" --pem --out "$T/offline$g.pem" >/dev/null ||
    fail "provisiond crl --generation $g"
done
GENS=([1]="$GEN1" [2]="$GEN2")
OTHER=([1]="$GEN2" [2]="$GEN1")
for g in 1 2; do
  check "offline crl --generation $g verifies under its root" crl_ok "$T/offline$g.pem" "${GENS[$g]}"
  check "offline crl --generation $g does not verify under the other" bash -c "! openssl crl -in '$T/offline$g.pem' -CAfile '${OTHER[$g]}' -noout 2>&1 | grep -q 'verify OK'"
  expect_eq "offline crl --generation $g lists its own revocation alone" 1 "$(entries "$T/offline$g.pem")"
done
expect_contains "offline crl --generation 2 lists generation 2's serial" "${s2^^}" \
  "$(openssl crl -in "$T/offline2.pem" -noout -text | tr 'a-f' 'A-F')"
out3=$("$PROVISIOND" crl "${ADMIN[@]}" --generation 3 --out "$T/offline3.der" 2>&1; echo "rc=$?")
expect_contains "offline crl of a generation that does not exist names it" "CA generation 3" "$out3"
expect_eq "... in one line, exit 1" "2 rc=1" "$(wc -l <<<"$out3") $(tail -1 <<<"$out3")"
expect_eq "an unknown generation's CRL -> 404" 404 \
  "$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$CPORT/crl-gen3")"

# -- the server certificate ---------------------------------------------------------------------
check "before retire: openssl holding only generation 1's root verifies the server" handshake_ok "$GEN1"
check "ca retire" "$PROVISIOND" ca retire "${ADMIN[@]}"
reload
expect_contains "the reload says which server certificate" "server_cert_gen=2" "$(cat "$T/daemon.log")"
cp "$GEN2" "$T/new-only.pem"
check "after retire: openssl holding only generation 2's root verifies the server" handshake_ok "$GEN2"
expect_contains "after retire: device-sim (mbedTLS) holding only the new root renews" "reenroll: ok=1 failed=0" \
  "$("$DEVICE_SIM" reenroll --fleet "$T/fleet" --server "127.0.0.1:$PORT" --ca-bundle "$T/new-only.pem" --devices dev-00003)"
expect_eq "after retire: generation 1's CRL is no longer served" 404 \
  "$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "$CRL")"
fetch /crl-gen2 "$T/gen2b.pem" "$s2"
check "generation 2's CRL still served and verified" crl_ok "$T/gen2b.pem" "$GEN2"
finish
