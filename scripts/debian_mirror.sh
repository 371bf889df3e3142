# debian_mirror.sh — sourced by scripts/install-deps.sh and tests/e2e/container_lib.sh: the Debian
# mirror this machine already uses (so we never name a host of our own) and the trixie pin.
# Debian 12 ships mbedTLS 2.28; the packages below come from trixie, everything else from bookworm.
PROVISIOND_TRIXIE_PINNED="libmbedtls-dev libmbedtls21 libmbedx509-7 libmbedcrypto16 libllhttp-dev libllhttp9.2"

debian_mirror() {
  local m=""
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    m=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$m" ] && [ -f /etc/apt/sources.list ]; then
    m=$(awk '$1=="deb" && $0 !~ /security/ {for (i=2;i<=NF;i++) if ($i ~ /^(https?|file):/) {print $i; exit}}' /etc/apt/sources.list)
  fi
  echo "${m:-http://deb.debian.org/debian}"
}

# trixie_preferences: apt_preferences(5) taking only the pinned packages from trixie.
trixie_preferences() {
  printf '%s\n' "# provisiond: take only the named packages from trixie; everything else stays bookworm.
Package: *
Pin: release n=trixie
Pin-Priority: 1

Package: $PROVISIOND_TRIXIE_PINNED
Pin: release n=trixie
Pin-Priority: 990"
}
