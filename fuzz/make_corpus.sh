#!/usr/bin/env bash
# make_corpus.sh OUT_DIR — seed corpora for the fuzz targets, generated fresh (nothing committed
# that could expire): real CSRs and certificates from openssl, real HTTP requests, config values.
set -euo pipefail
out=$1
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
mkdir -p "$out"/{http_request_fuzz,est_body_fuzz,csr_fuzz,trust_store_fuzz,config_fuzz} \
  "$out"/{client_chain_fuzz,proxy_header_fuzz,pkcs11_uri_fuzz,manifest_fuzz}

csr() {  # csr NAME KEYSPEC [extra req args]
  local name=$1 key=$2; shift 2
  # shellcheck disable=SC2086
  openssl req -new -newkey $key -nodes -subj "/CN=dev-00001/serialNumber=SN1" -keyout "$t/$name.key" \
    -outform DER -out "$out/csr_fuzz/$name.der" "$@" 2>/dev/null
  base64 "$out/csr_fuzz/$name.der" > "$out/est_body_fuzz/$name.b64"
}
csr p256 "ec -pkeyopt ec_paramgen_curve:P-256"
csr p384 "ec -pkeyopt ec_paramgen_curve:P-384"
csr rsa "rsa:1024"
csr sha1 "ec -pkeyopt ec_paramgen_curve:P-256" -sha1
printf '[req]\ndistinguished_name=dn\nattributes=attrs\nprompt=no\n[dn]\nCN=dev-00001\n[attrs]\nchallengePassword=AbCdEfGhIjKlMnOpQrStUvWxYz0123456789+/abcd=\n' > "$t/cp.cnf"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -config "$t/cp.cnf" \
  -keyout "$t/cp.key" -outform DER -out "$out/csr_fuzz/challenge.der" 2>/dev/null
base64 -w 64 "$out/csr_fuzz/challenge.der" | sed 's/$/\r/' > "$out/est_body_fuzz/challenge-crlf.b64"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj "/CN=Seed CA/O=x" \
  -addext "subjectAltName=DNS:a.example,URI:urn:x" -keyout "$t/ca.key" -out "$t/ca.pem" 2>/dev/null
cp "$t/ca.pem" "$out/trust_store_fuzz/one.pem"
cat "$t/ca.pem" "$t/ca.pem" > "$out/trust_store_fuzz/two.pem"
openssl x509 -in "$t/ca.pem" -outform DER -out "$out/trust_store_fuzz/one.der"

# client_chain_fuzz: [chunk size] + TLS 1.2 records carrying a Certificate message with the
# seed CA (one record; split over two records after a ChangeCipherSpec-type record; empty list).
python3 - "$out/trust_store_fuzz/one.der" "$out/client_chain_fuzz" <<'PY'
import sys
der = open(sys.argv[1], "rb").read()
u24 = lambda n: n.to_bytes(3, "big")
rec = lambda t, b: bytes([t, 3, 3]) + len(b).to_bytes(2, "big") + b
def msg(certs):
    lst = b"".join(u24(len(c)) + c for c in certs)
    body = u24(len(lst)) + lst
    return bytes([11]) + u24(len(body)) + body
out = sys.argv[2]
open(f"{out}/one", "wb").write(b"\x00" + rec(22, msg([der])))
m = msg([der, der])
open(f"{out}/split", "wb").write(b"\x07" + rec(20, b"\x01") + rec(22, m[:50]) + rec(22, m[50:]))
open(f"{out}/empty", "wb").write(b"\x05" + rec(22, msg([])))
PY

body=$(cat "$out/est_body_fuzz/p256.b64")
# First byte of an http_request_fuzz input is the split point.
printf '\x20POST /.well-known/est/simpleenroll HTTP/1.1\r\nHost: x\r\nContent-Type: application/pkcs10\r\nContent-Length: %d\r\n\r\n%s' \
  "${#body}" "$body" > "$out/http_request_fuzz/enroll"
printf '\x10GET /.well-known/est/cacerts HTTP/1.1\r\nHost: x\r\n\r\nGET /.well-known/est/csrattrs HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' \
  > "$out/http_request_fuzz/keepalive"
printf '\x05POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc' > "$out/http_request_fuzz/expect"
printf '\x05POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n' > "$out/http_request_fuzz/chunked"

for v in 30d 15m 90s 10/1m 20/1h off "label=line-a,o=Acme,ou=Line A,days=365" "label=x"; do
  printf '%s' "$v" > "$out/config_fuzz/$(printf '%s' "$v" | sha1sum | cut -c1-12)"
done

# proxy_header_fuzz: [split point] + a PROXY v2 header (TCP4 with a TLS byte after it, TCP6 with
# a NOOP TLV, LOCAL) and a v1 line.
python3 - "$out/proxy_header_fuzz" <<'PY'
import ipaddress, sys
sig = b"\r\n\r\n\x00\r\nQUIT\n"
def v2(cmd_fam, payload):
    return sig + cmd_fam + len(payload).to_bytes(2, "big") + payload
a4 = ipaddress.ip_address("192.0.2.7").packed + ipaddress.ip_address("198.51.100.1").packed
a6 = ipaddress.ip_address("2001:db8::5").packed + ipaddress.ip_address("2001:db8::1").packed
ports = (50123).to_bytes(2, "big") + (443).to_bytes(2, "big")
seeds = {"tcp4": b"\x09" + v2(b"\x21\x11", a4 + ports) + b"\x16\x03\x01",
         "tcp6": b"\x20" + v2(b"\x21\x21", a6 + ports + b"\x04\x00\x02ab"),
         "local": b"\x03" + v2(b"\x20\x00", b""),
         "v1": b"\x04PROXY TCP4 192.0.2.7 198.51.100.1 50123 443\r\n"}
for name, data in seeds.items():
    open(f"{sys.argv[1]}/{name}", "wb").write(data)
PY

# pkcs11_uri_fuzz: RFC 7512 URIs as operators write them, with escapes, ids and each query form.
n=0
for u in 'pkcs11:token=provisiond;object=ca?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/provisiond/token.pin' \
         'pkcs11:token=My%20HSM;manufacturer=SoftHSM%20project;id=%01%02%03;type=private?pin-source=/run/pin' \
         'pkcs11:serial=6db38aed1ba9971f;slot-id=7;object=ca?pin-value=1234' \
         'pkcs11:model=SoftHSM%20v2;object=c%3Ba?module-path=/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so&pin-source=file:/p'; do
  n=$((n + 1)); printf '%s' "$u" > "$out/pkcs11_uri_fuzz/uri$n"
done

# manifest_fuzz: a CSV and a JSON manifest as a factory writes them (hex in either case).
hex=$(printf 'x' | sha256sum | cut -d' ' -f1)
printf 'device_id,bootstrap_sha256\r\ndev-00001,%s\r\ndev-00002,%s\n' "$hex" "${hex^^}" \
  > "$out/manifest_fuzz/csv"
printf '[\n {"device_id": "dev-00001", "bootstrap_sha256": "%s"}\n]\n' "$hex" > "$out/manifest_fuzz/json"
