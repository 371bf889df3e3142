#!/usr/bin/env bash
# crl_bench.sh — the live CRL at scale (docs/benchmarks.md, "CRL"): N revoked certificates
# (default 100,000) put straight into a fresh SQLite store, then: the CRL's size, the time
# `provisiond crl` takes to read and sign it, serve's first publication (its crl_published log
# line), the cost of the poll query (RevocationCount), and revocation to served CRL with N
# entries (a CLI revoke while serve runs, until /crl's ETag changes). Not part of the test suite.
#   bench/crl_bench.sh BUILD_DIR [N]
set -euo pipefail
BUILD=${1:?usage: crl_bench.sh BUILD_DIR [N]}
N=${2:-100000}
P="$BUILD/daemon/provisiond"
T=$(mktemp -d "${TMPDIR:-/tmp}/provisiond-crlbench.XXXXXX")
PID=""
trap '[ -n "$PID" ] && kill -KILL "$PID" 2>/dev/null; [ "${KEEP:-0}" = 1 ] || rm -rf "$T"' EXIT
export PROVISIOND_CONFIG=""
now_ms() { date +%s%3N; }
echo "machine: $(nproc) CPUs, load before: $(cut -d' ' -f1-3 /proc/loadavg)"

"$P" init --state-dir "$T/state" >/dev/null
DB="$T/state/provisiond.db"
# Rows shaped like issued certificates (serials 7f + 30 hex digits, 16 bytes, as Issuer's; the
# SHA-256 columns 32 bytes, schema version 13), all revoked, expiring in 2099; plus one unrevoked
# certificate for the timed revocation.
sqlite3 "$DB" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i <= $N)
INSERT INTO certificates (serial, device_id, subject, san, not_before, not_after, der,
  fingerprint_sha256, public_key_sha256, auth_cert_issuer, auth_cert_serial,
  auth_cert_fingerprint, kind, peer, issued_at, revoked_at, revocation_reason)
SELECT printf('7f%030x', i), 'dev-' || i, 'CN=dev-' || i, 'URI:urn:provisiond:device:dev-' || i,
  '2026-01-01T00:00:00Z', '2099-01-01T00:00:00Z', x'30', CAST(printf('%032x', i) AS BLOB),
  CAST(printf('%032x', i) AS BLOB), 'CN=factory', '01', zeroblob(32), 'enroll', '127.0.0.1:1', '2026-01-01T00:00:00Z',
  CASE WHEN i <= $N THEN '2026-06-01T00:00:00Z' END, CASE WHEN i <= $N THEN 1 END FROM n;"
last=$(printf '7f%030x' $((N + 1)))

for run in 1 2 3; do
  t0=$(now_ms)
  "$P" crl --state-dir "$T/state" --out "$T/crl.der" >/dev/null
  echo "provisiond crl, $N entries, run $run: $(( $(now_ms) - t0 )) ms (process start to file written)"
done
echo "CRL size: $(stat -c %s "$T/crl.der") bytes ($N entries)"
t0=$(now_ms)
openssl crl -inform DER -in "$T/crl.der" -CAfile "$T/state/ca.crt" -noout 2>&1 | grep -q 'verify OK'
echo "openssl crl -verify: OK in $(( $(now_ms) - t0 )) ms"
for run in 1 2 3; do
  t0=$(date +%s%N)
  sqlite3 "$DB" "SELECT (SELECT count(*) FROM certificates WHERE revoked_at IS NOT NULL) +
    (SELECT count(*) FROM issuance_intents WHERE revoked_at IS NOT NULL)" >/dev/null
  echo "RevocationCount query via sqlite3 (process included), run $run: $(( ($(date +%s%N) - t0) / 1000000 )) ms"
done

# A bootstrap trust anchor of its own (the issuing CA may not be one).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=factory \
  -keyout "$T/factory.key" -out "$T/factory.crt" -days 30 2>/dev/null
CPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$P" --log-level info serve --state-dir "$T/state" --listen 127.0.0.1:0 --workers 1 --trust "$T/factory.crt" \
  --crl-listen "127.0.0.1:$CPORT" 2>"$T/serve.log" &
PID=$!
for _ in $(seq 1 300); do
  grep -q crl_published "$T/serve.log" && break
  kill -0 "$PID" 2>/dev/null || { cat "$T/serve.log" >&2; exit 1; }
  sleep 0.1
done
echo "serve, first CRL: $(grep -m1 crl_published "$T/serve.log")"
etag() { curl -sS --max-time 5 -o /dev/null -D - "http://127.0.0.1:$CPORT/crl" | sed -n 's/^ETag: \(.*\)\r$/\1/p'; }
for run in 1 2 3; do
  before=$(etag)
  [ "$run" -gt 1 ] && last=$(printf '7f%030x' $((N + run)))
  [ "$run" -gt 1 ] && sqlite3 "$DB" "INSERT INTO certificates (serial, device_id, subject, san,
    not_before, not_after, der, fingerprint_sha256, public_key_sha256, auth_cert_issuer,
    auth_cert_serial, auth_cert_fingerprint, kind, peer, issued_at) VALUES ('$last', 'dev-x$run',
    'CN=x', 'URI:x', '2026-01-01T00:00:00Z', '2099-01-01T00:00:00Z', x'30',
    CAST(printf('%032x', $((N + run))) AS BLOB), CAST(printf('%032x', $((N + run))) AS BLOB),
    'CN=factory', '01', zeroblob(32), 'enroll', '127.0.0.1:1', '2026-01-01T00:00:00Z')"
  t0=$(now_ms)
  "$P" revoke --state-dir "$T/state" --serial "$last" >/dev/null
  t1=$(now_ms)
  while [ "$(etag)" = "$before" ]; do sleep 0.02; done
  t2=$(now_ms)
  echo "revoke -> served CRL with $((N + run)) entries, run $run: $((t2 - t1)) ms after the CLI returned ($((t2 - t0)) ms from its start)"
done
curl -sS --max-time 5 -o "$T/served.der" "http://127.0.0.1:$CPORT/crl"
openssl crl -inform DER -in "$T/served.der" -noout -text | grep -qi "Serial Number: ${last^^}" &&
  echo "the last revoked serial is listed in the served CRL"
grep crl_published "$T/serve.log" | tail -3
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
