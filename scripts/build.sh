#!/usr/bin/env bash
# build.sh — installs dependencies if any are missing, then configures and builds into build/.
# Used by demo.sh, test.sh and CI; safe to run again (incremental).
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}
as_root scripts/install-deps.sh

cmake -S . -B build -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" -DPROVISIOND_WERROR=ON >/dev/null
cmake --build build -j"$(nproc)"
