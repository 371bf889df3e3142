#!/usr/bin/env bash
# build-deb.sh — builds provisiond_<version>_amd64.deb from this tree (docs/packaging.md):
# builds BUILD_DIR (default build-deb, configured with tests off if new), runs CPack's DEB
# generator, and prints the package's absolute path as the last line. Needs the build
# dependencies (scripts/install-deps.sh) and dpkg-dev.
#   scripts/build-deb.sh [BUILD_DIR]  &&  sudo apt-get install ./build-deb/provisiond_*_amd64.deb
set -euo pipefail

cd "$(dirname "$0")/.."
B=${1:-build-deb}
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
# An existing build directory (e.g. build/, as CTest uses it) is packaged as configured: CPack's
# preinstall step builds whatever it builds. A new one is configured for the package only.
if [ ! -f "$B/CMakeCache.txt" ]; then
  cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF -DPROVISIOND_BENCH=OFF \
    "${launcher[@]}" >/dev/null
fi
cmake --build "$B" -j"$(nproc)"
rm -f "$B"/provisiond_*_amd64.deb
(cd "$B" && cpack -G DEB >/dev/null)
deb=$(ls "$B"/provisiond_*_amd64.deb)
readlink -f "$deb"
