#!/usr/bin/env bash
# check_config.sh — `provisiond check-config` accepts a good config file and reports each problem
# on its own line (exit 1): unreadable or unparsable files, keys that do not match their
# certificates, a CA key readable by others or owned by someone else, a trust file that does not
# parse, an unknown key. `serve` runs from the same file, command-line options winning.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/service_lib.sh"

init_state
make_openssl_ca mfg
cat > "$T/provisiond.toml" <<TOML
log-level = "info"
[serve]
state-dir = "$T/state"
trust = ["$T/mfg.crt"]
listen = "127.0.0.1:0"
workers = 1
profile = ["label=line-a,o=Acme,ou=Line A,days=365"]
TOML
out=$("$PROVISIOND" check-config --config "$T/provisiond.toml" 2>&1)
expect_eq "good config passes" "config OK ($T/provisiond.toml)" "$out"

# serve from the file alone (start_daemon adds --listen 127.0.0.1:0 --workers 2: the command
# line wins); the labelled profile from the file is served.
start_daemon --config "$T/provisiond.toml" --client-auth optional
expect_contains "serve reads state-dir and trust from the file" "trust_files=1" "$(cat "$T/daemon.log")"
expect_eq "profile label from the file is served" 200 \
  "$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$CA" "$EST/line-a/cacerts")"
stop_daemon

# Break things, one problem each.
cp -a "$T/state" "$T/good-state"
chmod 0644 "$T/state/ca.key"
install -m 0640 "$T/mfg.key" "$T/state/server.key"   # not the certificate's key, and 0640
echo "not a certificate" > "$T/junk.pem"
mkdir -p "$T/trustdir" && cp "$T/mfg.crt" "$T/trustdir/" && echo junk > "$T/trustdir/zz-bad.pem"
rm "$T/state/provisiond.db"
set +e
out=$("$PROVISIOND" check-config --config "$T/provisiond.toml" --service-user nobody \
      --trust "$T/junk.pem" "$T/trustdir" "$T/missing.pem" 2>&1)
rc=$?
set -e
echo "$out"
expect_eq "exit status 1" 1 "$rc"
expect_eq "one line per problem" 8 "$(printf '%s\n' "$out" | grep -c '^provisiond check-config: ')"
expect_eq "nothing else printed" 8 "$(printf '%s\n' "$out" | wc -l)"
expect_contains "bad trust file named" "trust $T/junk.pem: " "$out"
expect_contains "bad file inside a trust directory named" "trust $T/trustdir/zz-bad.pem: " "$out"
expect_contains "missing trust path" "trust $T/missing.pem: not found" "$out"
expect_contains "CA key mode" "$T/state/ca.key: mode 0644, want 0600" "$out"
expect_contains "CA key owner" "$T/state/ca.key: owned by root, want nobody" "$out"
expect_contains "server key does not match" "$T/state/server.key: does not match $T/state/server.crt" "$out"
expect_contains "server key mode" "$T/state/server.key: mode 0640, want 0600" "$out"
expect_contains "database missing" "$T/state/provisiond.db: No such file or directory" "$out"

# --store: a bad URL or a password inside it is one problem line that does not show the password;
# with a PostgreSQL store the state directory's SQLite file is not needed, and the store is
# contacted only to read the CA generations' states: one that cannot be reached is no problem (an
# outage must not fail a start or reload; every generation's key is then checked).
rm -rf "$T/state" && cp -a "$T/good-state" "$T/state"
for store in "mysql://app@db/x" "postgresql://app:Secret-pw1@db/x"; do
  set +e
  out=$("$PROVISIOND" check-config --config "$T/provisiond.toml" --store "$store" 2>&1); rc=$?
  set -e
  expect_eq "check-config --store $store: exit 1, one line" "1 1" "$rc $(printf '%s\n' "$out" | wc -l)"
  expect_contains "... naming --store" "provisiond check-config: --store: " "$out"
  if grep -q Secret-pw1 <<<"$out"; then fail "... shows the password"; else pass "... without the password"; fi
done
rm "$T/state/provisiond.db"
out=$("$PROVISIOND" check-config --config "$T/provisiond.toml" \
  --store postgresql://app@127.0.0.1:1/x 2>&1 || true)
expect_eq "a postgresql store needs no SQLite file, and one out of reach is no problem" \
  "config OK ($T/provisiond.toml)" "$out"

# A CA key that does not match the CA certificate.
rm -rf "$T/state" && cp -a "$T/good-state" "$T/state"
openssl ecparam -name prime256v1 -genkey -noout -out "$T/other.key" 2>/dev/null
install -m 0600 "$T/other.key" "$T/state/ca.key"
set +e
out=$("$PROVISIOND" check-config --config "$T/provisiond.toml" 2>&1); rc=$?
set -e
expect_eq "mismatched CA key: exit 1" 1 "$rc"
expect_eq "mismatched CA key: one line" \
  "provisiond check-config: $T/state/ca.key: does not match $T/state/ca.crt (the CA key and certificate must be a pair)" "$out"

# Config-file errors are one line too.
rm -rf "$T/state" && cp -a "$T/good-state" "$T/state"
printf 'listne = "127.0.0.1:1"\n' >> "$T/provisiond.toml"
set +e
out=$("$PROVISIOND" check-config --config "$T/provisiond.toml" 2>&1); rc=$?
set -e
expect_eq "unknown key: exit 1, one line" "1 1" "$rc $(printf '%s\n' "$out" | wc -l)"
expect_contains "unknown key named" "serve.listne" "$out"
set +e
out=$("$PROVISIOND" check-config --config "$T/nonexistent.toml" 2>&1); rc=$?
set -e
expect_eq "missing config file: exit 1, one line" "1 1" "$rc $(printf '%s\n' "$out" | wc -l)"
# serve refuses the same file.
set +e
"$PROVISIOND" serve --config "$T/provisiond.toml" >/dev/null 2>&1; rc=$?
set -e
check "serve refuses a config with an unknown key (exit $rc)" test "$rc" -ne 0

finish
