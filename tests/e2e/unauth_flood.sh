#!/usr/bin/env bash
# Issue #12 finding 3: an unauthenticated peer must not grow the store or the journal faster than
# the bound in docs/security.md. 300 handshakes with an untrusted client certificate whose subject
# is ~13.7 KB (before the fix: 300 rows with the full subject, 7-8 MB of database + WAL and a
# 14 KB log line each). Asserts: every failure counted in /metrics; rows <= kUnauthBurst +
# (kUnauthPerSecond + 1 summary) per second; each subject cut to 256 bytes + marker; database +
# WAL and the daemon log grown by less than those rows and lines can take.
. "$(dirname "$0")/lib.sh"

make_openssl_ca factory
# An untrusted CA and a leaf with a 13.7 KB subject (many OU attributes), made at run time.
python3 - "$T" <<'PY'
import datetime, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID, ExtendedKeyUsageOID
t = sys.argv[1]
now = datetime.datetime.now(datetime.timezone.utc)
ca_key = ec.generate_private_key(ec.SECP256R1())
ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rogue-ca")])
key = ec.generate_private_key(ec.SECP256R1())
attrs = [x509.NameAttribute(NameOID.COMMON_NAME, "rogue-device")]
attrs += [x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "%03d" % i + "x" * 60)
          for i in range(205)]
subject = x509.Name(attrs)
cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(ca_name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256()))
open(t + "/rogue.crt", "wb").write(cert.public_bytes(serialization.Encoding.PEM))
open(t + "/rogue.key", "wb").write(key.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
print("subject bytes:", len(subject.rfc4514_string()))
PY
init_state
start_daemon --trust "$T/factory.crt" --metrics-listen 0
MPORT=$(sed -n 's/^<5>metrics_listening address=127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$T/daemon.log")
sleep 0.5
db_bytes() { cat "$DB" "$DB-wal" 2>/dev/null | wc -c; }
rows() { sql "SELECT count(*) FROM enrollment_events"; }
rows0=$(rows); bytes0=$(db_bytes); log0=$(wc -c < "$T/daemon.log")
t0=$(date +%s.%N)

python3 - "$PORT" "$CA" "$T/rogue.crt" "$T/rogue.key" <<'PY'
import socket, ssl, sys
from concurrent.futures import ThreadPoolExecutor
port, ca, crt, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
def one(_):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.load_cert_chain(crt, key)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                s.settimeout(10)
                s.recv(1)  # TLS 1.3: the server's alert arrives after the client's Finished
    except (ssl.SSLError, OSError):
        pass
with ThreadPoolExecutor(8) as pool:
    list(pool.map(one, range(300)))
PY
sleep 1.5  # the writer's last rows and the sweep's last summary
elapsed=$(python3 -c "import time; print(max(1, round(time.time() - $t0 + 0.5)))")
rows1=$(rows); bytes1=$(db_bytes); log1=$(wc -c < "$T/daemon.log")
echo "elapsed ${elapsed}s rows +$((rows1 - rows0)) db+wal +$((bytes1 - bytes0)) B log +$((log1 - log0)) B"

failed=$(curl -s "http://127.0.0.1:$MPORT/metrics" |
  awk '/^provisiond_handshake_failures_total\{/ {s += $2} END {print s + 0}')
expect_eq "every failed handshake counted in /metrics" 300 "$failed"
supp=$(curl -s "http://127.0.0.1:$MPORT/metrics" |
  sed -n 's/^provisiond_unauthenticated_suppressed_total{kind="row"} //p')
expect_eq "rows not written one by one counted in /metrics" 300 \
  "$((supp + $(sql "SELECT count(*) FROM enrollment_events WHERE outcome = 'handshake_failed'")))"
# docs/security.md: at most 20 (burst) + 5/s rows in full, plus one summary row a second.
max_rows=$((20 + 6 * elapsed))
added=$((rows1 - rows0))
check "rows added ($added) <= $max_rows" [ "$added" -le "$max_rows" ]
check "some failures recorded in full" [ "$(sql "SELECT count(*) FROM enrollment_events
  WHERE outcome = 'handshake_failed'")" -ge 1 ]
check "the rest summed up in a 'suppressed' row" [ "$(sql "SELECT count(*) FROM enrollment_events
  WHERE outcome = 'suppressed'")" -ge 1 ]
longest=$(sql "SELECT max(length(presented_subject)) FROM enrollment_events")
check "stored subject cut to <= 288 bytes (got $longest)" [ "$longest" -le 288 ]
expect_eq "the cut is marked" 1 "$(sql "SELECT count(*) > 0 FROM enrollment_events
  WHERE presented_subject LIKE '%more bytes)'")"
# Store: each row commits at worst alone, writing <= 6 pages (table + 4 indexes + root) to the WAL.
max_db=$((max_rows * 6 * 4096))
check "database + WAL grew $((bytes1 - bytes0)) <= $max_db bytes" [ $((bytes1 - bytes0)) -le "$max_db" ]
# Journal: lines <= 20 + 5/s in full (each < 1 KiB) + 1 summary a second (< 200 bytes).
max_log=$(((20 + 5 * elapsed) * 1024 + elapsed * 200))
check "daemon log grew $((log1 - log0)) <= $max_log bytes" [ $((log1 - log0)) -le "$max_log" ]
longest_line=$(tail -c +$((log0 + 1)) "$T/daemon.log" | awk '{ if (length($0) > m) m = length($0) } END {print m + 0}')
check "longest log line $longest_line < 1024 bytes" [ "$longest_line" -lt 1024 ]
check "a summary line says how many were not logged" grep -q '^<4>unauthenticated_suppressed events=' "$T/daemon.log"
check "audit chain intact" "$PROVISIOND" audit verify --state-dir "$T/state"
finish
