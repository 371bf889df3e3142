#!/usr/bin/env bash
# install-deps.sh — installs everything provisiond needs to build, test and run its demo.
# Idempotent; run as root on Debian 12 (bookworm) or 13 (trixie).
#
# Debian 12 ships mbedTLS 2.28 (end of life, no usable TLS 1.3). On bookworm this script adds
# the trixie suite from the machine's own Debian mirror and pins it so low that nothing comes
# from it except the packages named in scripts/debian_mirror.sh (mbedTLS 3.6 and llhttp).
# mmdebstrap and systemd-container build and boot the Debian root of the systemd container test
# (tests/e2e/systemd_container.sh).
set -euo pipefail

. /etc/os-release
PACKAGES="build-essential cmake g++ pkg-config git libsqlite3-dev sqlite3 libcli11-dev doctest-dev
  nlohmann-json3-dev openssl curl ca-certificates libsystemd-dev systemd
  postgresql libpq-dev softhsm2 opensc p11-kit gnutls-bin libp11-kit-dev
  gnuplot-nox libmbedtls-dev libllhttp-dev python3 python3-cryptography valgrind strace jq haproxy iproute2
  mmdebstrap systemd-container dpkg-dev lintian prometheus"
# mmdebstrap, systemd-container: the booted-systemd test (tests/e2e/systemd_container.sh).
# dpkg-dev and lintian: the Debian package (scripts/build-deb.sh, tests/e2e/deb_package.sh).
# prometheus: promtool and the server for tests/e2e/ops_*.sh, which run their own on loopback
# (on a host booted with systemd, Debian's package also enables its own prometheus.service).

# libFuzzer builds need clang >= 16 (std::expected with libstdc++); Debian 12's default is 14,
# which nothing uses: there only clang-16 (some 50 MB of downloads and 280 MB unpacked less).
if [ "${VERSION_CODENAME:-}" = "bookworm" ]; then
  PACKAGES="$PACKAGES clang-16 libclang-rt-16-dev"
else
  PACKAGES="$PACKAGES clang llvm libclang-rt-dev"
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps.sh: must run as root (try: sudo $0)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive

. "$(dirname "$0")/debian_mirror.sh"  # debian_mirror, trixie_preferences, the pinned list

if [ "${VERSION_CODENAME:-}" = "bookworm" ]; then
  src=/etc/apt/sources.list.d/provisiond-trixie.sources
  pref=/etc/apt/preferences.d/provisiond-trixie
  want_src="Types: deb
URIs: $(debian_mirror)
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
  want_pref=$(trixie_preferences)
  if [ "$(cat "$src" 2>/dev/null)" != "$want_src" ] || [ "$(cat "$pref" 2>/dev/null)" != "$want_pref" ]; then
    printf '%s\n' "$want_src" > "$src"
    printf '%s\n' "$want_pref" > "$pref"
    apt-get update -q
  fi
fi

missing=""
for p in $PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# An old mbedTLS (2.28 from bookworm) counts as missing.
if ! dpkg --compare-versions "$(dpkg-query -W -f='${Version}' libmbedtls-dev 2>/dev/null || echo 0)" ge 3.6; then
  missing="$missing libmbedtls-dev"
fi
if [ -n "$missing" ]; then
  [ -n "$(find /var/lib/apt/lists -name '*Packages*' -newer /etc/apt/sources.list.d 2>/dev/null | head -1)" ] || apt-get update -q
  apt-get install -y -q --no-install-recommends $missing
fi
echo "install-deps.sh: mbedTLS $(dpkg-query -W -f='${Version}' libmbedtls-dev), all dependencies present"
