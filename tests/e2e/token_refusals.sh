#!/usr/bin/env bash
# A CA key in a token that cannot be used is refused with one line and a non-zero exit, by init
# and by serve, and the PIN never shows: a URI with an unknown attribute, a module that is not a
# PKCS#11 module, a missing module, a token that does not exist, a PIN file others can read, a
# wrong PIN, pin-value without --allow-pin-value, a URI that names no PIN.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/token_lib.sh"

# refused DESCRIPTION NEEDLE COMMAND...: exits non-zero with exactly one stderr line holding
# NEEDLE and never the PIN.
refused() {
  local what=$1 needle=$2; shift 2
  local rc=0
  "$@" >"$T/out" 2>"$T/err" || rc=$?
  if [ "$rc" -eq 0 ]; then fail "$what: exit 0"; return; fi
  expect_eq "$what: one line on stderr" 1 "$(wc -l <"$T/err")"
  expect_contains "$what: names the problem" "$needle" "$(cat "$T/err")"
  if grep -qF -- "$TOKEN_PIN" "$T/err" "$T/out"; then fail "$what: the PIN is printed"; fi
}
init() { rm -rf "$T/s"; "$PROVISIOND" init --state-dir "$T/s" "$@"; }
mod=$SOFTHSM_MODULE pin=$HSM/pin

refused "unknown URI attribute" "colour" \
  init --ca-key-uri "pkcs11:token=provisiond;object=ca;colour=blue?module-path=$mod&pin-source=file:$pin"
refused "unknown query attribute" "pin-sauce" \
  init --ca-key-uri "pkcs11:token=provisiond;object=ca?module-path=$mod&pin-sauce=file:$pin"
zlib=$(ldconfig -p | awk '/libz\.so\.1 .*x86-64/ {p = $NF} END {print p}')  # reads it all: no SIGPIPE
refused "a library that is not a PKCS#11 module" "not a PKCS#11 module" \
  init --ca-key-uri "pkcs11:token=provisiond;object=ca?module-path=$zlib&pin-source=file:$pin"
refused "a module path that does not exist" "/nonexistent/libsofthsm2.so" \
  init --ca-key-uri "pkcs11:token=provisiond;object=ca?module-path=/nonexistent/libsofthsm2.so&pin-source=file:$pin"
refused "a token that does not exist" "no token matches" \
  init --ca-key-uri "pkcs11:token=elsewhere;object=ca?module-path=$mod&pin-source=file:$pin"
cp "$pin" "$T/pin-0644"; chmod 0644 "$T/pin-0644"
refused "a PIN file others can read" "mode 0644" \
  init --ca-key-uri "pkcs11:token=provisiond;object=ca?module-path=$mod&pin-source=file:$T/pin-0644"
( umask 077; echo "wrong-$TOKEN_PIN" > "$T/pin-wrong" )
refused "a wrong PIN" "CKR_PIN_INCORRECT" \
  init --ca-key-uri "pkcs11:token=provisiond;object=ca?module-path=$mod&pin-source=file:$T/pin-wrong"
refused "pin-value without --allow-pin-value" "pin-value" \
  init --ca-key-uri "pkcs11:token=provisiond;object=ca?module-path=$mod&pin-value=$TOKEN_PIN"
refused "a URI that names no PIN" "no PIN" \
  init --ca-key-uri "pkcs11:token=provisiond;object=ca?module-path=$mod"
check "nothing was made by the refused inits" test ! -e "$T/s/ca.crt"
expect_eq "no key was made in the token by them" "" \
  "$(pkcs11 --list-objects --type privkey 2>/dev/null | grep label || true)"

# A good init, then serve refusing what it cannot use.
init_state --ca-key-uri "$TOKEN_URI"
"$DEVICE_SIM" factory --out "$T/fleet" --count 1 >/dev/null
serve() { "$PROVISIOND" serve --state-dir "$T/state" --listen 127.0.0.1:0 --trust "$T/fleet/factory-ca.crt" "$@"; }
cp "$T/pin-wrong" "$pin"
refused "serve: a wrong PIN" "CKR_PIN_INCORRECT" serve
( umask 077; printf '%s\n' "$TOKEN_PIN" > "$pin" )
refused "serve: a wrong module path" "/nonexistent/libsofthsm2.so" \
  serve --ca-key-uri "pkcs11:token=provisiond;object=ca?module-path=/nonexistent/libsofthsm2.so&pin-source=file:$pin"
refused "serve: a key that is not in the token" "no private key" \
  serve --ca-key-uri "pkcs11:token=provisiond;object=other?module-path=$mod&pin-source=file:$pin"
refused "check-config: a PIN file others can read" "mode 0644" \
  "$PROVISIOND" check-config --state-dir "$T/state" --trust "$T/fleet/factory-ca.crt" \
  --ca-key-uri "pkcs11:token=provisiond;object=ca?module-path=$mod&pin-source=file:$T/pin-0644"
# With --allow-pin-value the operator takes the PIN into the URI on purpose: it works.
start_daemon --trust "$T/fleet/factory-ca.crt" --allow-pin-value \
  --ca-key-uri "pkcs11:token=provisiond;object=ca?module-path=$mod&pin-value=$TOKEN_PIN"
out=$("$DEVICE_SIM" enroll --fleet "$T/fleet" --server "127.0.0.1:$PORT" --ca-bundle "$CA" 2>&1)
expect_contains "pin-value with --allow-pin-value enrolls" "enroll: ok=1 failed=0" "$out"
if grep -qF -- "$TOKEN_PIN" "$T/daemon.log"; then fail "the daemon logged the PIN"; fi
finish
