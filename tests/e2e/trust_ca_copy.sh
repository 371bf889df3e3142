#!/usr/bin/env bash
# A trust store holding another certificate for provisiond's own CA (same key and subject: a
# re-issued ca.crt) is refused by check-config and by serve, one line each (issue #12, finding 7):
# with it, operational certificates whose chain ends at the copy were classified as bootstrap
# ones, and a revoked operational certificate got 200 on simpleenroll. Certificates with only the
# CA's key, or only its subject, are refused too. A clean trust store still passes.
. "$(dirname "$0")/lib.sh"

init_state
make_openssl_ca factory
make_openssl_device factory dev-1
# The re-issued CA: ca.crt self-signed again with ca.key (same subject and key, new serial and
# validity, extensions kept).
openssl x509 -in "$CA" -key "$T/state/ca.key" -set_serial 0x7a11 -days 400 \
  -out "$T/ca-copy.crt" 2>/dev/null
check "the copy is another certificate" bash -c "! cmp -s '$CA' '$T/ca-copy.crt'"
expect_eq "with the same subject" "$(openssl x509 -in "$CA" -noout -subject)" \
  "$(openssl x509 -in "$T/ca-copy.crt" -noout -subject)"
expect_eq "and the same key" "$(openssl x509 -in "$CA" -noout -pubkey)" \
  "$(openssl x509 -in "$T/ca-copy.crt" -noout -pubkey)"
subject=$(openssl x509 -in "$CA" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')
# Only the key (another subject) / only the subject (another key).
openssl req -x509 -new -key "$T/state/ca.key" -subj "/CN=not provisiond" -days 30 \
  -addext "basicConstraints=critical,CA:TRUE" -out "$T/same-key.crt" 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/other.key" \
  -subj "/$(echo "$subject" | sed 's|,|/|g')" -days 30 \
  -addext "basicConstraints=critical,CA:TRUE" -out "$T/same-subject.crt" 2>/dev/null

check "clean trust store passes check-config" \
  "$PROVISIOND" check-config --state-dir "$T/state" --trust "$T/factory.crt"

refused() {  # refused DESCRIPTION NEEDLE TRUST...
  local what=$1 needle=$2 out rc=0; shift 2
  local args=()
  for t in "$@"; do args+=(--trust "$t"); done
  out=$("$PROVISIOND" check-config --state-dir "$T/state" "${args[@]}" 2>&1) || rc=$?
  expect_eq "$what: check-config exit status" 1 "$rc"
  expect_eq "$what: check-config prints one line" 1 "$(printf '%s\n' "$out" | wc -l)"
  expect_contains "$what: check-config names the problem" "$needle" "$out"
  rc=0
  out=$(timeout 10 "$PROVISIOND" serve --state-dir "$T/state" --listen 127.0.0.1:0 --workers 1 \
        "${args[@]}" 2>&1) || rc=$?
  check "$what: serve exits non-zero (status $rc)" test "$rc" -ne 0 -a "$rc" -ne 124
  expect_eq "$what: serve prints one line" 1 "$(printf '%s\n' "$out" | wc -l)"
  expect_contains "$what: serve names the problem" "$needle" "$out"
}

refused "re-issued CA" \
  "trust $T/ca-copy.crt: certificate '$(openssl x509 -in "$CA" -noout -subject -nameopt compat | sed 's/^subject=//' | sed 's/\//, /g; s/^, //')' has the CA's subject and key" \
  "$T/factory.crt" "$T/ca-copy.crt"
# In a bundle with the manufacturer CA, and in a directory: the same.
cat "$T/factory.crt" "$T/ca-copy.crt" > "$T/bundle.pem"
refused "re-issued CA in a bundle" "trust $T/bundle.pem: certificate" "$T/bundle.pem"
mkdir "$T/trustdir" && cp "$T/factory.crt" "$T/ca-copy.crt" "$T/trustdir/"
refused "re-issued CA in a directory" "trust $T/trustdir/ca-copy.crt: certificate" "$T/trustdir"
refused "ca.crt itself" "has the CA's subject and key" "$T/factory.crt" "$CA"
refused "the CA key under another subject" "'CN=not provisiond' has the CA's key" \
  "$T/factory.crt" "$T/same-key.crt"
refused "the CA subject with another key" "has the CA's subject (a copy" \
  "$T/factory.crt" "$T/same-subject.crt"

# The clean store still serves: bootstrap enrolls, the operational certificate is classified as
# operational (simpleenroll with it -> 403 needs_bootstrap).
mkdir "$T/live" && cp "$T/factory.crt" "$T/live/"
start_daemon --trust "$T/live"
make_csr dev-1 "$T/op"
expect_eq "bootstrap enrolls" 200 "$(enroll_curl "$T/dev-1" "$T/op.b64")"
tr -d '\r' < "$T/resp.body" | base64 -d | openssl pkcs7 -inform DER -print_certs -out "$T/op.crt"
make_csr dev-1 "$T/op2"
expect_eq "operational cert on simpleenroll -> 403" 403 "$(enroll_curl "$T/op" "$T/op2.b64")"
expect_contains "needs_bootstrap" "simpleenroll needs a bootstrap certificate" "$(cat "$T/resp.body")"
# A reload that would bring the copy into the trust directory is refused; the old store is kept.
cp "$T/ca-copy.crt" "$T/live/"
kill -HUP "$DAEMON_PID"
for _ in $(seq 1 50); do grep -q 'reload_refused' "$T/daemon.log" && break; sleep 0.1; done
expect_contains "reload refused, naming the copy" "trust $T/live/ca-copy.crt: certificate" \
  "$(grep reload_refused "$T/daemon.log" || true)"
expect_eq "still classified as operational after the refused reload" 403 \
  "$(enroll_curl "$T/op" "$T/op2.b64")"
finish
