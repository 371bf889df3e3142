#!/usr/bin/env bash
# 45_reference.sh — section 3e: provisiond side by side with the EST reference server (libest's
# example estserver, OpenSSL 3.0) under one load driver (bench/est_load.py: TLS 1.2, a never-used
# P-256 bootstrap identity and a fresh CSR per enrollment, Connection: close) at concurrency
# 8, 64 and 256, the servers alternated at each level -> reference.tsv.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=bench/est_reference.sh
. "$ROOT/bench/est_reference.sh"
R=$W/reference
NREF=${BENCH_NREF:-1500}             # enrollments per run
ROUNDS=${BENCH_REF_ROUNDS:-2}        # ref, ours, ref, ours ... at each concurrency
read -r -a LEVELS <<< "${BENCH_REF_LEVELS:-8 64 256}"
# The provisiond binaries compared, LABEL=PATH each (e.g. before=... after=... for an A/B of two
# builds); every one runs after the reference server at each level of each round.
read -r -a OURS <<< "${BENCH_REF_OURS:-provisiond=$P}"
LOAD=(python3 "$ROOT/bench/est_load.py")
rm -rf "$R"
mkdir -p "$R"

say "reference: estserver (apt-get download libest-utils libest3) into $R"
ref_fetch "$R/libest"
meta reference_server "$(dpkg-deb -f "$R"/libest/debs/libest-utils_*.deb Package Version | tr '\n' ' ')"
total=$(( NREF * ROUNDS * ${#LEVELS[@]} * (1 + ${#OURS[@]}) ))
say "reference: $total bootstrap identities and CSRs"
"${LOAD[@]}" prepare --dir "$R/ids" --count "$total"
ref_ca "$R/libest" "$R/ids/factory-ca.crt"

OPIDS=()
OADDRS=()
stop_all() {
  ref_stop
  local p
  for p in "${OPIDS[@]}"; do kill -TERM "$p" 2> /dev/null || true; wait "$p" 2> /dev/null || true; done
}
trap stop_all EXIT
for o in "${OURS[@]}"; do
  label=${o%%=*} bin=${o#*=}
  "$bin" init --state-dir "$R/state-$label" --server-name 127.0.0.1 > /dev/null
  "$bin" serve --state-dir "$R/state-$label" --listen 127.0.0.1:0 --rate-limit-device off \
    --rate-limit-address off --trust "$R/ids/factory-ca.crt" 2> "$R/$label.log" &
  OPIDS+=($!)
  addr=""
  for _ in $(seq 1 100); do
    addr=$(sed -n 's/.*listening on \([0-9.]*:[0-9]*\).*/\1/p' "$R/$label.log")
    [ -n "$addr" ] && break
    sleep 0.1
  done
  [ -n "$addr" ] || { cat "$R/$label.log" >&2; exit 1; }
  OADDRS+=("$addr")
done
ref_start "$R/libest" "$R/estserver.log"

tsv_new "$W/reference.tsv" server round concurrency planned ok failed rate_per_second p50_ms \
  p99_ms max_ms p99_over_p50 steady_p50_ms steady_p99_ms steady_p99_over_p50 \
  local_p99_over_p50 server_cpu_ms_per_enrollment load
first=0
run_one() {  # run_one LABEL ROUND CONCURRENCY ADDR PID CA
  local j=$R/$1-r$2-c$3.json
  "${LOAD[@]}" run --dir "$R/ids" --server "$4" --pid "$5" --ca-bundle "$6" --concurrency "$3" \
    --first "$first" --count "$NREF" --raw "${j%.json}.lat" > "$j"
  first=$((first + NREF))
  local figures
  IFS=$'\t' read -r -a figures < <(jq -r '[.planned, .ok, .failed,
    (.rate_per_second * 10 | round / 10), (.p50_ms | round), (.p99_ms | round),
    (.max_ms | round), (.p99_ms / .p50_ms * 100 | round / 100), (.steady_p50_ms | round),
    (.steady_p99_ms | round), (.steady_p99_ms / .steady_p50_ms * 100 | round / 100),
    (.local_p99_over_p50 * 100 | round / 100),
    (.server_cpu_ms_per_enrollment * 100 | round / 100), .load_before] | @tsv' "$j")
  tsv_row "$W/reference.tsv" "$1" "$2" "$3" "${figures[@]}"
  say "$(tail -n 1 "$W/reference.tsv")"
}
meta reference_runs "$NREF enrollments a run, $ROUNDS rounds, concurrency ${LEVELS[*]}"
for round in $(seq 1 "$ROUNDS"); do
  for c in "${LEVELS[@]}"; do
    run_one estserver "$round" "$c" "$REFADDR" "$REFPID" "$R/libest/estCA/cacert.crt"
    for i in "${!OURS[@]}"; do
      label=${OURS[$i]%%=*}
      run_one "$label" "$round" "$c" "${OADDRS[$i]}" "${OPIDS[$i]}" "$R/state-$label/ca.crt"
    done
  done
done
