#!/usr/bin/env bash
# Database write access is not signing power (issue #12, finding 4): a pending intent planted with
# device A's bootstrap fingerprint and the key A's CSR will carry, whose TBS names device B and
# runs to 2036, is not signed when A enrolls (500, intent_mismatch, nothing issued, the intent left
# pending and named in an error line). A legitimate interrupted issuance still resumes (200).
. "$(dirname "$0")/lib.sh"

make_openssl_ca factory
make_openssl_device factory dev-a
make_openssl_device factory dev-c
init_state
make_csr dev-a "$T/csr-a"

# The planted TBS: everything the lint checks holds (our issuer bytes and AKI, P-256 key, CA:FALSE,
# digitalSignature, clientAuth, SAN, SKI), but subject and SAN name dev-b and notAfter is 2036.
python3 - "$T/state/ca.crt" "$T/state/ca.key" "$T/csr-a.key" "$T/planted" <<'PY'
import datetime, os, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
ca = x509.load_pem_x509_certificate(open(sys.argv[1], "rb").read())
ca_key = serialization.load_pem_private_key(open(sys.argv[2], "rb").read(), None)
key = serialization.load_pem_private_key(open(sys.argv[3], "rb").read(), None).public_key()
serial = int.from_bytes(bytes([0x5a]) + os.urandom(15), "big")
now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
not_after = min(datetime.datetime(2036, 6, 1, tzinfo=datetime.timezone.utc),
                ca.not_valid_after_utc - datetime.timedelta(days=1))
ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
cert = (x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dev-b")]))
        .issuer_name(ca.subject).public_key(key).serial_number(serial)
        .not_valid_before(now - datetime.timedelta(seconds=300)).not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False),
                       critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(
            [x509.UniformResourceIdentifier("urn:provisiond:device:dev-b")]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski),
                       critical=False)
        .sign(ca_key, hashes.SHA256()))
out = sys.argv[4]
open(out + ".serial", "w").write("%032x\n" % serial)
open(out + ".tbs.hex", "w").write(cert.tbs_certificate_bytes.hex() + "\n")
open(out + ".not_after", "w").write(not_after.strftime("%Y-%m-%dT%H:%M:%SZ") + "\n")
PY
serial=$(cat "$T/planted.serial")
fingerprint=$(openssl x509 -in "$T/dev-a.crt" -outform DER | sha256sum | cut -d' ' -f1)
key_hash=$(openssl pkey -in "$T/csr-a.key" -pubout -outform DER | sha256sum | cut -d' ' -f1)
created=$(date -u +%Y-%m-%dT%H:%M:%SZ)
sql "INSERT INTO issuance_intents (serial, device_id, kind, public_key_sha256,
       auth_cert_fingerprint, auth_cert_issuer, auth_cert_serial, tbs, not_after, peer,
       created_at, status)
     VALUES ('$serial', 'dev-a', 'enroll', X'$key_hash', X'$fingerprint', 'CN=factory', '01',
             X'$(cat "$T/planted.tbs.hex")', '$(cat "$T/planted.not_after")', '127.0.0.1:1',
             '$created', 'pending')"

start_daemon --trust "$T/factory.crt"
status=$(enroll_curl "$T/dev-a" "$T/csr-a.b64")
expect_eq "A's enrollment resuming the planted intent -> 500" 500 "$status"
expect_contains "fixed reason" "pending issuance record does not match this enrollment" \
  "$(cat "$T/resp.body")"
check "no certificate in the body" bash -c "! grep -q 'MII' '$T/resp.body'"
expect_eq "nothing signed for the planted serial" 0 \
  "$(sql "SELECT count(*) FROM certificates WHERE serial='$serial'")"
expect_eq "no certificate at all" 0 "$(sql 'SELECT count(*) FROM certificates')"
expect_eq "the intent is left pending for the operator" pending \
  "$(sql "SELECT status FROM issuance_intents WHERE serial='$serial'")"
line=$(grep '^<3>enroll_refused' "$T/daemon.log" || true)
expect_contains "an error line names the intent serial" "serial=$serial" "$line"
expect_contains "with the outcome" "outcome=intent_mismatch" "$line"
expect_contains "and the first field that differs" "subject: CN=dev-b, want CN=dev-a" "$line"
expect_sql_eventually "recorded as an error event" 1 \
  "SELECT count(*) FROM enrollment_events WHERE outcome='error' AND reason LIKE 'intent_mismatch:%'"
expect_eq "again on retry: still refused" 500 "$(enroll_curl "$T/dev-a" "$T/csr-a.b64")"

# A legitimate interrupted issuance (its certificate row refused once) resumes: same serial, 200.
make_csr dev-c "$T/csr-c"
sql "CREATE TRIGGER refuse_all BEFORE INSERT ON certificates BEGIN SELECT RAISE(ABORT, 'injected fault'); END;"
expect_eq "interrupted issuance -> 500" 500 "$(enroll_curl "$T/dev-c" "$T/csr-c.b64")"
pending=$(sql "SELECT serial FROM issuance_intents WHERE device_id='dev-c' AND status='pending'")
check "dev-c's intent is pending" test -n "$pending"
sql "DROP TRIGGER refuse_all;"
expect_eq "the retry resumes it -> 200" 200 "$(enroll_curl "$T/dev-c" "$T/csr-c.b64")"
expect_eq "the intent became its certificate (its row is gone)" 0 \
  "$(sql "SELECT count(*) FROM issuance_intents WHERE serial='$pending'")"
expect_eq "and its certificate row" 1 \
  "$(sql "SELECT count(*) FROM certificates WHERE serial='$pending' AND device_id='dev-c'")"
# The planted row was never chained (issue #12 finding 5): audit verify names it, and only it.
audit=$("$PROVISIOND" audit verify --state-dir "$T/state" 2>&1) && audit_rc=0 || audit_rc=$?
check "audit verify fails on the planted intent" test "$audit_rc" -ne 0
expect_contains "naming its serial" "$serial" "$audit"
check "not the legitimately resumed one" bash -c "! grep -q '$pending' <<<\"\$1\"" _ "$audit"

finish
