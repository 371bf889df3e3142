#!/usr/bin/env bash
# HTTP-level errors: status codes and one-line text/plain reasons; nothing issued.
. "$(dirname "$0")/lib.sh"

make_openssl_ca factory
make_openssl_device factory dev-h
init_state
start_daemon --trust "$T/factory.crt"
C=(curl -sS --cacert "$CA" --cert "$T/dev-h.crt" --key "$T/dev-h.key" -o "$T/body" -w '%{http_code}')
make_csr dev-h "$T/csr"

expect_eq "unknown path -> 404" 404 "$("${C[@]}" "https://localhost:$PORT/index.html")"
expect_eq "unknown EST op -> 404" 404 "$("${C[@]}" "$EST/serverkeygen")"
expect_eq "unknown label -> 404" 404 "$("${C[@]}" "$EST/nosuchlabel/cacerts")"
expect_eq "GET simpleenroll -> 405" 405 "$("${C[@]}" "$EST/simpleenroll")"
expect_eq "POST cacerts -> 405" 405 "$("${C[@]}" -d x "$EST/cacerts")"
expect_eq "wrong content type -> 415" 415 \
  "$("${C[@]}" -H 'Content-Type: text/plain' --data-binary @"$T/csr.b64" "$EST/simpleenroll")"
expect_eq "chunked body -> 411" 411 \
  "$("${C[@]}" -H 'Content-Type: application/pkcs10' -H 'Transfer-Encoding: chunked' \
     --data-binary @"$T/csr.b64" "$EST/simpleenroll")"
head -c 100000 /dev/zero | tr '\0' 'A' > "$T/big"
expect_eq "oversized body -> 413" 413 \
  "$("${C[@]}" -H 'Content-Type: application/pkcs10' --data-binary @"$T/big" "$EST/simpleenroll")"
expect_eq "error body is a one-line reason" 1 "$(wc -l < "$T/body")"
# A POST with no Content-Length at all, written by hand over TLS.
printf 'POST /.well-known/est/simpleenroll HTTP/1.1\r\nHost: x\r\nContent-Type: application/pkcs10\r\nConnection: close\r\n\r\n' \
  | timeout 10 openssl s_client -quiet -connect "127.0.0.1:$PORT" -CAfile "$CA" \
      -cert "$T/dev-h.crt" -key "$T/dev-h.key" > "$T/raw" 2>/dev/null || true
expect_contains "POST without length -> 411" "HTTP/1.1 411 Length Required" "$(cat "$T/raw")"
expect_eq "nothing issued" 0 "$(sql 'SELECT count(*) FROM certificates')"

finish
