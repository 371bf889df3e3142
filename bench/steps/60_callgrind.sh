#!/usr/bin/env bash
# 60_callgrind.sh — section 4b: the daemon under valgrind --tool=callgrind, counters zeroed after
# start-up, NCG enrollments at concurrency 1 -> callgrind.tsv (inclusive instructions of the
# functions the crypto floor's operations enter, and of the rest worth naming).
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/../lib.sh"
say "callgrind: $NCG enrollments at concurrency 1"
CG=$W/callgrind.out
# Start-up runs PRAGMA quick_check over everything the runs before wrote: minutes under valgrind.
DAEMON_PFX="valgrind --tool=callgrind --callgrind-out-file=$CG" START_WAIT=600 start_daemon cg-daemon
# Count the enrollments only, not the start-up. vgdb may not answer the instant the daemon
# says it listens: try for a few seconds.
for _ in 1 2 3 4 5 6 7 8 9 10; do
  callgrind_control -z "$DPID" > /dev/null 2>&1 && break
  sleep 1
done
"$SIM" enroll --fleet "$W/fleet-cg" --server "$DADDR" --ca-bundle "$W/state/ca.crt" \
  --concurrency 1 --timeout 60 --json "$W/cg.json" > "$W/cg.txt" 2>&1 || true
callgrind_control -d "$DPID" > /dev/null
stop_daemon
meta cg_ok "$(jnum "$W/cg.json" .ok)"
callgrind_annotate --inclusive=yes --threshold=100 "$CG.1" > "$W/callgrind.txt" 2> /dev/null
ir() {  # inclusive Ir of the first line containing $1 (0 if none)
  local line
  line=$(grep -F -m1 -- "$1" "$W/callgrind.txt" || true)
  line=${line#"${line%%[![:space:]]*}"}
  line=${line%% *}
  echo "${line//,/}" | grep -E '^[0-9]+$' || echo 0
}
# kind: crypto = a crypto floor operation (summed), other = shown alone, total = the daemon's.
tsv_new "$W/callgrind.tsv" kind label symbol instructions
while IFS='|' read -r kind label sym; do
  tsv_row "$W/callgrind.tsv" "$kind" "$label" "$sym" "$(ir "$sym")"
done <<'LIST'
crypto|ECDSA verify (4 per enrollment)|mbedtls_ecdsa_verify_restartable
crypto|ECDSA sign (2 per enrollment)|mbedtls_ecdsa_write_signature_restartable
crypto|ECDHE keygen + key_share (TLS 1.3)|mbedtls_ssl_tls13_generate_and_write_xxdh_key_exchange
crypto|ECDHE shared secret|psa_raw_key_agreement
other|SQLite writer thread (group commit)|db::Writer::Loop()
other|… of which preparing SQL statements|db::Statement::Prepare
other|SHA-256 (transcript, fingerprints, TBS)|mbedtls_internal_sha256_process
other|HTTP parsing (llhttp)|llhttp_execute
other|mbedtls_ssl_free (zeroes both record buffers)|mbedtls_ssl_free
other|X.509 parsing (certificates)|mbedtls_x509_crt_parse_der
other|CSR parsing|mbedtls_x509_csr_parse_der
other|certificate building (ca::BuildTbs)|ca::BuildTbs
total|the daemon, all threads|PROGRAM TOTALS
LIST
