#!/usr/bin/env bash
# Hostile input, each case with its expected status and "nothing issued" where it matters:
# malformed HTTP framing, malformed and malicious CSRs, hostile identities, TLS renegotiation.
. "$(dirname "$0")/lib.sh"

make_openssl_ca factory
make_openssl_device factory dev-h
init_state
start_daemon --trust "$T/factory.crt" --rate-limit-device off
issued() { sql "SELECT count(*) FROM certificates"; }

# -- HTTP framing, written by hand over TLS --------------------------------------------------
raw() {  # raw REQUEST-BYTES -> the status line
  printf '%b' "$1" | timeout 10 openssl s_client -quiet -connect "127.0.0.1:$PORT" -CAfile "$CA" \
    -cert "$T/dev-h.crt" -key "$T/dev-h.key" 2>/dev/null | head -1 | tr -d '\r'
}
P='POST /.well-known/est/simpleenroll HTTP/1.1\r\nHost: x\r\nContent-Type: application/pkcs10\r\n'
expect_eq "headers over 16 KiB -> 431" "HTTP/1.1 431 Request Header Fields Too Large" \
  "$(raw "GET /.well-known/est/cacerts HTTP/1.1\r\nX-Big: $(head -c 17000 /dev/zero | tr '\0' a)\r\n\r\n")"
expect_eq "negative Content-Length -> 400" "HTTP/1.1 400 Bad Request" "$(raw "${P}Content-Length: -5\r\n\r\nabc")"
expect_eq "non-numeric Content-Length -> 400" "HTTP/1.1 400 Bad Request" "$(raw "${P}Content-Length: abc\r\n\r\nabc")"
expect_eq "duplicated Content-Length -> 400" "HTTP/1.1 400 Bad Request" \
  "$(raw "${P}Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc")"
expect_eq "Content-Length with chunked -> 400" "HTTP/1.1 400 Bad Request" \
  "$(raw "${P}Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")"
expect_eq "garbage instead of HTTP -> 400" "HTTP/1.1 400 Bad Request" "$(raw "\x01\x02 hello\r\n\r\n")"

# -- CSRs -------------------------------------------------------------------------------------
post_der() {  # post_der FILE -> status (body in $T/resp.body)
  base64 "$1" > "$1.b64"
  enroll_curl "$T/dev-h" "$1.b64"
}
make_csr dev-h "$T/good"
head -c 100 "$T/good.der" > "$T/trunc.der"
expect_eq "truncated DER -> 400" 400 "$(post_der "$T/trunc.der")"
{ cat "$T/good.der"; printf 'XYZ'; } > "$T/trail.der"
expect_eq "trailing bytes -> 400" 400 "$(post_der "$T/trail.der")"
python3 - "$T" <<'PY'
import sys
t = sys.argv[1]
der = open(f"{t}/good.der", "rb").read()
# BER indefinite length on the outer SEQUENCE.
hdr = 2 + (der[1] & 0x7f) if der[1] & 0x80 else 2
open(f"{t}/ber.der", "wb").write(b"\x30\x80" + der[hdr:] + b"\x00\x00")
# 2,000 nested SEQUENCEs (indefinite lengths: no size bookkeeping, maximal depth).
open(f"{t}/deep.der", "wb").write(b"\x30\x80" * 2000 + b"\x00\x00" * 2000)
# A point off the curve: flip a byte of the public key (the signature can no longer match, but
# the key itself must be refused first or at least never accepted).
i = der.find(b"\x03\x42\x00\x04")
b = bytearray(der); b[i + 10] ^= 0xff
open(f"{t}/offcurve.der", "wb").write(bytes(b))
PY
expect_eq "BER indefinite length -> 400" 400 "$(post_der "$T/ber.der")"
expect_eq "deep nesting -> 400" 400 "$(post_der "$T/deep.der")"
expect_eq "off-curve public key -> 400" 400 "$(post_der "$T/offcurve.der")"
make_csr dev-h "$T/sha1"; openssl req -new -key "$T/sha1.key" -sha1 -subj /CN=dev-h -outform DER -out "$T/sha1.der"
expect_eq "SHA-1 signature -> 400" 400 "$(post_der "$T/sha1.der")"
expect_contains "SHA-1 reason" "ecdsa-with-SHA256 required" "$(cat "$T/resp.body")"
make_csr dev-h "$T/k1" "ec -pkeyopt ec_paramgen_curve:secp256k1"
expect_eq "secp256k1 key -> 400" 400 "$(enroll_curl "$T/dev-h" "$T/k1.b64")"
expect_contains "secp256k1 named" "secp256k1" "$(cat "$T/resp.body")"
python3 - "$T" <<'PY'
import sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
t = sys.argv[1]
def csr(name, attrs):
    key = ec.generate_private_key(ec.SECP256R1())
    req = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(attrs)).sign(key, hashes.SHA256())
    open(f"{t}/{name}.der", "wb").write(req.public_bytes(serialization.Encoding.DER))
cn = lambda v: x509.NameAttribute(NameOID.COMMON_NAME, v)
csr("rdns", [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "o%d" % i) for i in range(10000)])
csr("bigcn", [x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "x" * 65536), cn("dev-h")])
csr("nul", [cn("dev-h\x00evil")])
PY
expect_eq "10,000 RDNs -> 413 (over the body limit)" 413 "$(post_der "$T/rdns.der")"
expect_eq "64 KiB attribute -> 413" 413 "$(post_der "$T/bigcn.der")"
expect_eq "embedded NUL in the CN -> 403" 403 "$(post_der "$T/nul.der")"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$(printf 'dev-h\xff\xfe')" \
  -keyout "$T/utf.key" -outform DER -out "$T/utf.der" 2>/dev/null
expect_eq "invalid UTF-8 in the CN -> 403" 403 "$(post_der "$T/utf.der")"
expect_eq "none of these issued anything" 0 "$(issued)"

# A CSR asking for CA:TRUE, keyCertSign and extra EKUs: ignored, the profile decides.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=dev-h \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -addext "extendedKeyUsage=serverAuth,codeSigning,clientAuth" \
  -keyout "$T/greedy.key" -outform DER -out "$T/greedy.der" 2>/dev/null
expect_eq "greedy CSR is issued ..." 200 "$(post_der "$T/greedy.der")"
tr -d '\r' < "$T/resp.body" | base64 -d | openssl pkcs7 -inform DER -print_certs -out "$T/greedy.crt"
text=$(openssl x509 -in "$T/greedy.crt" -noout -text)
expect_contains "... as a non-CA" "CA:FALSE" "$text"
check "... without keyCertSign" bash -c "! grep -q 'Certificate Sign' <<< \"\$0\"" "$text"
expect_eq "... with clientAuth only" "TLS Web Client Authentication" \
  "$(openssl x509 -in "$T/greedy.crt" -noout -ext extendedKeyUsage | tail -1 | xargs)"

# -- hostile identities ----------------------------------------------------------------------
sqlcn="dev'; DROP TABLE certificates; --"
make_openssl_device factory sqlid
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$sqlcn" \
  -keyout "$T/sqlid.key" -out "$T/sqlid.req" 2>/dev/null
openssl x509 -req -in "$T/sqlid.req" -CA "$T/factory.crt" -CAkey "$T/factory.key" -CAcreateserial \
  -days 30 -extfile "$T/leaf.ext" -out "$T/sqlid.crt" 2>/dev/null
make_csr x "$T/sqlcsr"   # CN differs on purpose? no: a CN-less check would pass; use the same CN
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$sqlcn" \
  -keyout "$T/sqlcsr.key" -outform DER -out "$T/sqlcsr.der" 2>/dev/null
expect_eq "SQL metacharacters in the CN enroll" 200 "$(base64 "$T/sqlcsr.der" > "$T/sqlcsr.b64"; enroll_curl "$T/sqlid" "$T/sqlcsr.b64")"
expect_eq "stored byte-exact" "$(printf '%s' "$sqlcn" | od -An -tx1 | tr -d ' \n')" \
  "$(sql "SELECT lower(hex(device_id)) FROM certificates WHERE device_id LIKE 'dev''%'")"
expect_eq "and the table is still there" 2 "$(issued)"

evil=$(printf 'evil\r\n<3>forged\033[31m')
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$evil" \
  -keyout "$T/evil.key" -out "$T/evil.req" 2>/dev/null
openssl x509 -req -in "$T/evil.req" -CA "$T/factory.crt" -CAkey "$T/factory.key" -CAcreateserial \
  -days 30 -extfile "$T/leaf.ext" -out "$T/evil.crt" 2>/dev/null
make_csr evil "$T/evilcsr"
before=$(wc -l < "$T/daemon.log")
expect_eq "CR/LF/ESC in the CN -> 403" 403 "$(enroll_curl "$T/evil" "$T/evilcsr.b64")"
new=$(tail -n +"$((before + 1))" "$T/daemon.log")
expect_eq "exactly one log line for it" 1 "$(printf '%s\n' "$new" | grep -c .)"
expect_contains "escaped, not raw" 'subject="CN=evil\\0D\\0A\\<3\\>forged\\1B[31m"' "$new"
check "no raw CR or ESC byte in the log" bash -c "! LC_ALL=C grep -q \$'[\\r\\x1b]' '$T/daemon.log'"
check "no forged line" bash -c "! grep -q '^<3>forged' '$T/daemon.log'"

# -- TLS: no renegotiation, no compression ----------------------------------------------------
out=$( (sleep 1; echo R; sleep 2) | timeout 10 openssl s_client -tls1_2 -connect "127.0.0.1:$PORT" \
  -CAfile "$CA" -cert "$T/dev-h.crt" -key "$T/dev-h.key" 2>&1 || true)
expect_contains "compression never negotiated" "Compression: NONE" "$out"
expect_contains "renegotiation attempted by the client" "RENEGOTIATING" "$out"
check "renegotiation refused (no second handshake completes)" \
  bash -c "[ \$(grep -c 'Verify return code' <<< \"\$0\") -le 1 ] && grep -qiE 'no renegotiation|alert|error' <<< \"\$0\"" "$out"
expect_eq "still nothing else issued" 2 "$(issued)"

# -- TLS: client chains over the limits (issue #12; ca/chain_limits.h) ------------------------
# 7 certificates (limit 4) and a 2-certificate chain whose CA certificate is ~6 KiB (limit 4 KiB
# each): refused with bad_certificate before any signature is checked, TLS 1.3 and 1.2 alike.
for kind in long big; do python3 "$(dirname "$0")/hostile_chain.py" "$T" "$kind"; done
for v in tls1_3 tls1_2; do
  for kind in long big; do
    expect_eq "client chain '$kind' refused ($v)" "fatal bad_certificate" \
      "$(s_client_alert -"$v" -cert "$T/$kind.leaf.pem" -key "$T/$kind.key.pem" \
         -cert_chain "$T/$kind.chain.pem")"
  done
done
expect_contains "too long logged" 'chain refused: chain of more than 4 certificates' \
  "$(cat "$T/daemon.log")"
expect_contains "too big logged" 'chain refused: certificate 1 is ' "$(cat "$T/daemon.log")"
expect_eq "nothing issued for them" 2 "$(issued)"

finish
