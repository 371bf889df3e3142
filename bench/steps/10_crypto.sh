#!/usr/bin/env bash
# 10_crypto.sh — section 1: bench/crypto_floor (mbedTLS, CPU time per operation) and
# `openssl speed` for the same operations -> crypto.tsv (one row per crypto_floor operation).
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/../lib.sh"
say "crypto_floor"
meta crypto_load "$(loadavg)"
"$B/bench/crypto_floor" --seconds "$CRYPTO_SECONDS" --tsv "$W/crypto_floor.raw" > "$W/crypto.txt"
say "openssl speed"
meta openssl_load "$(loadavg)"
openssl speed -seconds "$OPENSSL_SECONDS" ecdsap256 ecdhx25519 ecdhp256 > "$W/openssl.txt" \
  2> /dev/null
meta openssl_seconds "$OPENSSL_SECONDS"
meta crypto_seconds "$CRYPTO_SECONDS"
# openssl speed's sign/s and verify/s are its last two columns; its ECDH line ends in op/s.
speed() { awk -v pat="$1" -v col="$2" 'index($0, pat) {print $(NF - col); exit}' "$W/openssl.txt"; }
tsv_new "$W/crypto.tsv" operation us_per_op ops_per_s runs instructions openssl_ops_per_s
while IFS=$'\t' read -r name u ops runs instr; do
  case "$name" in
    "ECDSA P-256 sign") o=$(speed "ecdsa (nistp256)" 1) ;;
    "ECDSA P-256 verify") o=$(speed "ecdsa (nistp256)" 0) ;;
    "X25519 shared secret") o=$(speed "ecdh (X25519)" 0) ;;
    "ECDH P-256 shared secret") o=$(speed "ecdh (nistp256)" 0) ;;
    *) o="" ;;
  esac
  tsv_row "$W/crypto.tsv" "$name" "$u" "$ops" "$runs" "$instr" "$o"
done < "$W/crypto_floor.raw"
