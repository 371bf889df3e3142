#!/usr/bin/env bash
# 85_chain.sh — section 8: good devices' latency while attackers present the hostile client chain
# of issue #12 finding 1 (bench/chain_attack.sh on this run's build) -> chain.tsv.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/../lib.sh"
say "chain attack (bench/chain_attack.sh)"
meta_once hz "$HZ"
meta chain_devices "${CHAIN_DEVICES:-200}"
meta chain_threads "${CHAIN_THREADS:-4}"
meta chain_nice "${CHAIN_NICE:-19}"
CHAIN_TSV=$W/chain.tsv bash "$ROOT/bench/chain_attack.sh" "$B" > "$W/chain.txt"
