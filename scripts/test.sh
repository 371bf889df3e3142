#!/usr/bin/env bash
# test.sh — the whole test suite on a fresh machine: dependencies, build (warnings are errors),
# then every unit and end-to-end test through CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
ctest --test-dir build --output-on-failure -j"$(nproc)" "$@"
