#!/usr/bin/env bash
# 00_setup.sh — the Release build, the machine (meta.tsv), provisiond init and every device-sim
# fleet, before any measurement so that key generation does not overlap one.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/../lib.sh"
cd "$ROOT"
say "build (Release) in $B"
cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF > "$W/cmake.log"
cmake --build "$B" -j"${BENCH_JOBS:-2}" --target provisiond device-sim crypto_floor db_bench \
  store_bench \
  > "$W/build.log"

meta run_date "$(date -u '+%Y-%m-%d %H:%M UTC')"
meta nproc "$(nproc)"
meta cpu_model "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
meta kernel "$(uname -r)"
meta mem_total "$(sed -n 's/^MemTotal: *//p' /proc/meminfo)"
meta mbedtls "$(dpkg-query -W -f='${Version}' libmbedcrypto16 2> /dev/null || echo '?')"
meta openssl "$(openssl version | cut -d' ' -f1-2)"
meta load_start "$(loadavg)"
for v in N1 N64 N1000 NCMP NPERF NREC NCG; do meta "$v" "${!v}"; done

say "provisiond init + device-sim factory"
"$P" init --state-dir "$W/state" --server-name localhost --server-name 127.0.0.1 > /dev/null
for f in "${FLEETS[@]}"; do
  name=${f%%:*}
  # Distinct CA names: mbedTLS tries the signature of every trust anchor whose subject matches
  # the issuer, so same-named CAs would cost one ECDSA verify each per handshake.
  "$SIM" factory --out "$W/fleet-$name" --count "${f#*:}" --prefix "$name-" \
    --ca-name "Factory CA $name" > /dev/null
done
