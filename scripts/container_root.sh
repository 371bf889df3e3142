#!/usr/bin/env bash
# container_root.sh — makes (once; cached, see tests/e2e/container_lib.sh) the Debian root that
# e2e/systemd_container boots, for the plain build's binaries: .ci/run starts it ahead of the suite.
set -euo pipefail
cd "$(dirname "$0")/.."
export PROVISIOND=$PWD/build/daemon/provisiond DEVICE_SIM=$PWD/build/device-sim/device-sim
. tests/e2e/lib.sh
. tests/e2e/container_lib.sh
container_require
echo "container root: $(container_cached_root)"
