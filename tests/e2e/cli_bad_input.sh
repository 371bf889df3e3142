#!/usr/bin/env bash
# Issue #12 "Bad input on the command line": every option of every subcommand, given a value out
# of range, of the wrong type, empty, huge, a file where a directory is expected and the reverse,
# or a path without permission, is refused with ONE line on stderr naming the option and a
# non-zero exit status (not a crash, not a daemon that starts: each run is cut after 10 s).
. "$(dirname "$0")/lib.sh"

make_openssl_ca factory
init_state
S="$T/state"
F="$T/a-file"; : > "$F"
HUGE=$(head -c 5000 /dev/zero | tr '\0' x)
mkdir -m 0700 "$T/private"
mkdir -m 0755 "$T/public"
chmod 0711 "$T"   # nobody may enter $T, not list it or enter $T/private
ROWS=0

# bad NEEDLE ARGS...: run provisiond ARGS; want exit 1-127 (not 124 = still running), exactly one
# non-empty line on stderr, containing NEEDLE (the option's name).
bad() {
  local needle=$1; shift
  ROWS=$((ROWS + 1))
  local rc=0
  ${AS_USER:-} timeout 10 "$PROVISIOND" "$@" >"$T/out" 2>"$T/err" </dev/null || rc=$?
  local lines; lines=$(wc -l < "$T/err")
  local what
  what="provisiond $(printf '%.80s ' "$@")"
  if [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ] || [ "$rc" -ge 128 ]; then
    fail "$what: exit status $rc (want a refusal): $(head -c 300 "$T/err")"
  elif [ "$lines" -ne 1 ]; then
    fail "$what: $lines lines on stderr, want 1: $(head -c 300 "$T/err")"
  elif ! grep -qF -- "$needle" "$T/err"; then
    fail "$what: stderr does not name '$needle': $(cat "$T/err")"
  else
    pass "$what -> $(head -c 200 "$T/err")"
  fi
}

SERVE=(serve --state-dir "$S" --trust "$T/factory.crt")
# --- serve: addresses
bad "99999" "${SERVE[@]}" --listen 127.0.0.1:99999
bad "65536" "${SERVE[@]}" --listen 127.0.0.1:65536
bad "--listen" "${SERVE[@]}" --listen 127.0.0.1:-1
bad "--listen" "${SERVE[@]}" --listen 127.0.0.1:abc
bad "not a numeric IP address" "${SERVE[@]}" --listen localhost:8443
bad "--listen" "${SERVE[@]}" --listen ""
bad "--listen" "${SERVE[@]}" --listen 127.0.0.1
bad "--listen" "${SERVE[@]}" --listen "$HUGE:1"
bad "--metrics-listen" "${SERVE[@]}" --metrics-listen 99999
bad "--metrics-listen" "${SERVE[@]}" --metrics-listen localhost:9100
bad "--metrics-listen" "${SERVE[@]}" --metrics-listen ""
# --- serve: numbers
bad "--workers" "${SERVE[@]}" --workers -1
bad "--workers" "${SERVE[@]}" --workers 100000
bad "--workers" "${SERVE[@]}" --workers 257
bad "--workers" "${SERVE[@]}" --workers abc
bad "--workers" "${SERVE[@]}" --workers 99999999999999999999
bad "--workers" "${SERVE[@]}" --workers ""
bad "--max-connections" "${SERVE[@]}" --max-connections 0
bad "--max-connections" "${SERVE[@]}" --max-connections 1.5
bad "--max-header-bytes" "${SERVE[@]}" --max-header-bytes 10
bad "--max-body-bytes" "${SERVE[@]}" --max-body-bytes 1000000000
bad "--max-pending-writes" "${SERVE[@]}" --max-pending-writes 1
bad "--commit-delay-ms" "${SERVE[@]}" --commit-delay-ms 5000
bad "--bootstrap-max-enrollments" "${SERVE[@]}" --bootstrap-max-enrollments 0
bad "--validity-days" "${SERVE[@]}" --validity-days 0
bad "--validity-days" "${SERVE[@]}" --validity-days x
# --- serve: durations, rates, choices, text
bad "--handshake-timeout" "${SERVE[@]}" --handshake-timeout 0s
bad "--handshake-timeout" "${SERVE[@]}" --handshake-timeout 10
bad "--request-timeout" "${SERVE[@]}" --request-timeout ""
bad "--idle-timeout" "${SERVE[@]}" --idle-timeout 99999999999d
bad "--drain-timeout" "${SERVE[@]}" --drain-timeout -5s
bad "--renew-before" "${SERVE[@]}" --renew-before soon
bad "--rate-limit-device" "${SERVE[@]}" --rate-limit-device 5
bad "--rate-limit-address" "${SERVE[@]}" --rate-limit-address 0/1m
bad "--tls-min" "${SERVE[@]}" --tls-min 1.1
bad "--proxy-protocol-from" "${SERVE[@]}" --proxy-protocol-from lb.example
bad "--proxy-protocol-from" "${SERVE[@]}" --proxy-protocol-from 127.0.0.1/32 10.0.0.1/8
bad "--proxy-protocol-from" "${SERVE[@]}" --proxy-protocol-from ::/129
printf '[serve]\nproxy-protocol-from = ["10.0.0.0/33"]\n' > "$T/bad-proxy.toml"
bad "proxy-protocol-from" "${SERVE[@]}" --config "$T/bad-proxy.toml"
bad "--client-auth" "${SERVE[@]}" --client-auth maybe
bad "--identity" "${SERVE[@]}" --identity uid
bad "--org" "${SERVE[@]}" --org "$HUGE"
bad "--ou" "${SERVE[@]}" --ou "$HUGE"
bad "--profile" "${SERVE[@]}" --profile bogus
bad "--profile" "${SERVE[@]}" --profile label=x,days=0
bad "--san-uri-prefix" "${SERVE[@]}" --san-uri-prefix ""
bad "--san-uri-prefix" "${SERVE[@]}" --san-uri-prefix "$HUGE"
bad "--log-level" "${SERVE[@]}" --log-level loud
# --- serve: paths
bad "--state-dir" serve --trust "$T/factory.crt" --state-dir "$T/nonexistent"
bad "--state-dir" serve --trust "$T/factory.crt" --state-dir "$F"
bad "--state-dir" serve --trust "$T/factory.crt" --state-dir ""
bad "--state-dir" serve --trust "$T/factory.crt"  # missing
bad "--trust" serve --state-dir "$S" --trust "$T/nonexistent"
bad "--trust" serve --state-dir "$S" --trust ""
bad "$T/nonexistent.toml" "${SERVE[@]}" --config "$T/nonexistent.toml"
bad "$T was not readable" "${SERVE[@]}" --config "$T"
bad "check-config" check-config --state-dir "$S" --trust "$T/factory.crt" --listen 127.0.0.1:99999
# --- init
bad "--state-dir" init --state-dir "$F"
bad "--state-dir" init --state-dir ""
bad "--state-dir" init --state-dir "$T/no/such/parent"
bad "--ca-days" init --state-dir "$T/new1" --ca-days 0
bad "--ca-days" init --state-dir "$T/new1" --ca-days x
bad "--server-days" init --state-dir "$T/new1" --server-days 99999999
bad "--ca-name" init --state-dir "$T/new1" --ca-name ""
bad "--ca-name" init --state-dir "$T/new1" --ca-name "$HUGE"
bad "--server-name" init --state-dir "$T/new1" --server-name ""
bad "--ca-cert" init --state-dir "$T/new1" --ca-cert "$T/nonexistent" --ca-key "$S/ca.key"
bad "--ca-cert" init --state-dir "$T/new1" --ca-cert "$T" --ca-key "$S/ca.key"
bad "--ca-key" init --state-dir "$T/new1" --ca-cert "$S/ca.crt" --ca-key "$T"
# --- admin commands
for cmd in list "revoke --serial 01" "deny-bootstrap --fingerprint 00" "crl --out $T/x.crl" \
           "audit verify"; do
  # shellcheck disable=SC2086
  bad "--state-dir" $cmd --state-dir "$T/nonexistent"
  # shellcheck disable=SC2086
  bad "--state-dir" $cmd --state-dir "$F"
done
bad "--expiring-within" list --state-dir "$S" --expiring-within x
bad "--device-id" list --state-dir "$S" --device-id ""
bad "--serial" revoke --state-dir "$S" --serial ""
bad "--device-id" revoke --state-dir "$S" --device-id ""
bad "revocation reason" revoke --state-dir "$S" --serial 01 --reason bogus
bad "--fingerprint" deny-bootstrap --state-dir "$S" --fingerprint ""
bad "--cert" deny-bootstrap --state-dir "$S" --cert "$T/nonexistent"
bad "--cert" deny-bootstrap --state-dir "$S" --cert "$T"
bad "--note" deny-bootstrap --state-dir "$S" --fingerprint 00 --note "$HUGE"
bad "--out" crl --state-dir "$S" --out "$T"
bad "--out" crl --state-dir "$S" --out "$T/no/such/dir/x.crl"
bad "--next-update-days" crl --state-dir "$S" --out "$T/x.crl" --next-update-days 0
# --- a database older than this program: serve and the admin commands refuse it, untouched, and
# name `provisiond migrate` (a copy of the state dir whose file claims an older schema version)
cp -a "$S" "$T/old"
sqlite3 "$T/old/provisiond.db" "PRAGMA user_version = 3"
bad "run provisiond migrate first" serve --state-dir "$T/old" --trust "$T/factory.crt"
bad "run provisiond migrate first" list --state-dir "$T/old"
bad "run provisiond migrate first" audit verify --state-dir "$T/old"
expect_eq "the older file is left as it was" 3 "$(sqlite3 "$T/old/provisiond.db" "PRAGMA user_version")"
# --- paths without permission (as an unprivileged user when run as root)
if [ "$(id -u)" = 0 ]; then
  AS_USER="setpriv --reuid=65534 --regid=65534 --clear-groups"
  chmod 0700 "$S"
  bad "--state-dir" "${SERVE[@]}"
  bad "--state-dir" list --state-dir "$S"
  bad "--state-dir" init --state-dir "$T/private/new"
  cp "$T/factory.crt" "$T/unreadable.crt"; chmod 0600 "$T/unreadable.crt"
  bad "--trust" serve --state-dir "$T/public" --trust "$T/unreadable.crt"
  bad "--out" crl --state-dir "$T/public" --out "$T/private/x.crl"
  AS_USER=""
fi
# --- and good input: --help (exit 0, the usage on stdout; e2e/deb_package runs the packed binary's
# --help too, but the sanitizer run leaves that test out: this one keeps --help under ASan)
out=$("$PROVISIOND" --help 2>&1) || fail "provisiond --help: exit status $?: $out"
expect_contains "provisiond --help lists serve" "serve" "$out"
echo "$ROWS rows"
finish
