#!/usr/bin/env bash
# install-deps.sh — installs everything provisiond needs to build, test and run its demo.
# Idempotent; run as root on Debian 12 (bookworm) or 13 (trixie).
#
# Debian 12 ships mbedTLS 2.28 (end of life, no usable TLS 1.3). On bookworm this script adds
# the trixie suite from the machine's own Debian mirror and pins it so low that nothing comes
# from it except the packages named in PINNED below (mbedTLS 3.6 and llhttp).
set -euo pipefail

. /etc/os-release
PINNED="libmbedtls-dev libmbedtls21 libmbedx509-7 libmbedcrypto16 libllhttp-dev libllhttp9.2"
PACKAGES="build-essential cmake g++ pkg-config git libsqlite3-dev sqlite3 libcli11-dev doctest-dev
  nlohmann-json3-dev openssl curl ca-certificates libsystemd-dev systemd clang llvm libclang-rt-dev
  postgresql libpq-dev softhsm2 opensc p11-kit gnutls-bin libp11-kit-dev
  gnuplot-nox libmbedtls-dev libllhttp-dev python3 python3-cryptography valgrind strace jq haproxy
  dpkg-dev lintian prometheus"
# dpkg-dev and lintian: the Debian package (scripts/build-deb.sh, tests/e2e/deb_package.sh).
# prometheus: promtool and the server for tests/e2e/ops_*.sh, which run their own on loopback
# (on a host booted with systemd, Debian's package also enables its own prometheus.service).

# libFuzzer builds need clang >= 16 (std::expected with libstdc++); Debian 12's default is 14.
if [ "${VERSION_CODENAME:-}" = "bookworm" ]; then
  PACKAGES="$PACKAGES clang-16 libclang-rt-16-dev"
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps.sh: must run as root (try: sudo $0)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive

# The mirror the machine already uses, so we never name a host of our own.
mirror() {
  local m=""
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    m=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$m" ] && [ -f /etc/apt/sources.list ]; then
    m=$(awk '$1=="deb" && $0 !~ /security/ {for (i=2;i<=NF;i++) if ($i ~ /^(https?|file):/) {print $i; exit}}' /etc/apt/sources.list)
  fi
  echo "${m:-http://deb.debian.org/debian}"
}

if [ "${VERSION_CODENAME:-}" = "bookworm" ]; then
  src=/etc/apt/sources.list.d/provisiond-trixie.sources
  pref=/etc/apt/preferences.d/provisiond-trixie
  want_src="Types: deb
URIs: $(mirror)
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
  want_pref="# provisiond: take only the named packages from trixie; everything else stays bookworm.
Package: *
Pin: release n=trixie
Pin-Priority: 1

Package: $PINNED
Pin: release n=trixie
Pin-Priority: 990"
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
