# container_lib.sh — a Debian 12 root booted by systemd-nspawn (systemd 252 as the container's
# PID 1), for tests that drive the installed units with systemctl and journalctl as an operator.
# The root is built once by mmdebstrap from the machine's own mirror with the trixie pin of
# scripts/install-deps.sh and cached in $PROVISIOND_ROOT_CACHE (default
# ${XDG_CACHE_HOME:-~/.cache}/provisiond); each test boots an overlay of it, so the cache stays
# clean. Sourced after lib.sh.
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/debian_mirror.sh"

LEADER=""       # the container's PID 1, seen from the host
NSPAWN_PID=""
ROOT="$T/root"  # the container's root directory (an overlay of the cached root)
ROOT_MOUNTED=0

container_skip() { echo "skip: $*" >&2; exit 77; }

# container_require: skips where nspawn cannot run; fails if the tools are missing.
container_require() {
  [ "$(id -u)" = 0 ] || container_skip "systemd-nspawn needs root (run the suite as root)"
  local tool
  for tool in systemd-nspawn mmdebstrap nsenter; do
    command -v "$tool" >/dev/null ||
      { echo "$tool not installed: run scripts/install-deps.sh" >&2; exit 1; }
  done
}

# runtime_packages BINARY...: the Debian packages holding the shared libraries the binaries load
# (dpkg knows a library by /lib or /usr/lib, whichever its package ships).
runtime_packages() {
  local libs found lib
  libs=$(ldd "$@" | awk '$3 ~ /^\// {sub(/^\/usr/, "", $3); print $3}' | sort -u)
  # shellcheck disable=SC2086
  found=$(dpkg -S $libs $(sed 's|^|/usr|' <<<"$libs") 2>/dev/null || true)
  for lib in $libs; do
    grep -q "^[^ ]*: \(/usr\)\?$lib\$" <<<"$found" || { echo "no package holds $lib" >&2; return 1; }
  done
  cut -d: -f1 <<<"$found" | sort -u | paste -sd,
}

# container_cached_root: prints the cached root directory, building it first if missing. The key
# is the mirror, the packages and the pin, so a new runtime library builds a new root. The host's
# own downloaded packages are linked in first (same file system only): apt downloads only the
# rest (about 100 s instead of 170 s here, on a loaded machine).
container_cached_root() {
  local cache=${PROVISIOND_ROOT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/provisiond}
  local mirror packages key dir
  mirror=$(debian_mirror)
  packages="systemd,$(runtime_packages "$PROVISIOND" "$DEVICE_SIM")"
  key=$( { echo "$mirror"; echo "$packages"; trixie_preferences; } | sha256sum | cut -c1-16)
  dir="$cache/nspawn-bookworm-$key"
  mkdir -p "$cache"
  (
    flock 9
    if [ ! -d "$dir" ]; then
      echo "building the container root in $dir (once; mmdebstrap from $mirror)" >&2
      rm -rf "$dir.tmp"
      local start=$SECONDS
      mmdebstrap --variant=minbase --include="$packages" \
        --setup-hook='mkdir -p "$1/etc/apt/preferences.d"' \
        --setup-hook="printf '%s\n' '$(trixie_preferences)' > \"\$1/etc/apt/preferences.d/provisiond-trixie\"" \
        --setup-hook='mkdir -p "$1/var/cache/apt/archives"' \
        --setup-hook='cp -l /var/cache/apt/archives/*.deb "$1/var/cache/apt/archives/" 2>/dev/null || true' \
        --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/locale/*' \
        bookworm "$dir.tmp" "deb $mirror bookworm main" "deb $mirror trixie main" \
        > "$cache/mmdebstrap.log" 2>&1 ||
        { tail -20 "$cache/mmdebstrap.log" >&2; echo "mmdebstrap failed" >&2; exit 1; }
      echo "container root built in $((SECONDS - start)) s" >&2
      mv "$dir.tmp" "$dir"
    fi
  ) 9> "$cache/.lock" || exit 1
  echo "$dir"
}

# container_prepare: $ROOT becomes a writable overlay of the cached root (a copy if overlayfs is
# not available).
container_prepare() {
  local lower
  lower=$(container_cached_root) || exit 1
  mkdir -p "$ROOT" "$T/upper" "$T/work"
  if mount -t overlay overlay -o "lowerdir=$lower,upperdir=$T/upper,workdir=$T/work" "$ROOT" \
       2>/dev/null; then
    ROOT_MOUNTED=1
  else
    cp -a "$lower/." "$ROOT/"
  fi
}

# container_install_cmake: the project installed into $ROOT by `cmake --install` of the build
# that made $PROVISIOND, prefix /usr/local, as an operator would (the unit names the real path).
container_install_cmake() {
  local build
  build=$(cd "$(dirname "$PROVISIOND")/.." && pwd)
  DESTDIR="$ROOT" cmake --install "$build" --prefix /usr/local > "$T/install.log"
}

# container_install_deb: CPack makes provisiond_<version>_amd64.deb from $PROVISIOND_BUILD_DIR
# (as scripts/build-deb.sh does) and puts it in $ROOT/root; container_apt_install installs it.
container_install_deb() {
  : "${PROVISIOND_BUILD_DIR:?PROVISIOND_BUILD_DIR must name the build directory (CPackConfig.cmake)}"
  (cd "$PROVISIOND_BUILD_DIR" && cpack -G DEB -B "$T/pkg" > "$T/cpack.log" 2>&1) ||
    { cat "$T/cpack.log" >&2; echo "cpack failed" >&2; exit 1; }
  cp "$T"/pkg/provisiond_*_amd64.deb "$ROOT/root/"
}

# container_apt_install: `apt-get install ./provisiond_*.deb` in the booted container, as an
# operator would. The container has no network: its Depends must be met by the root as built.
container_apt_install() {
  in_ct env DEBIAN_FRONTEND=noninteractive sh -c \
    'cd /root && apt-get install -y --no-install-recommends ./provisiond_*_amd64.deb' \
    > "$T/apt.log" 2>&1
}

# container_boot: boots $ROOT and waits until its systemd reports running.
container_boot() {
  systemd-nspawn --boot --register=no --keep-unit --private-network --console=passive \
    -M provisiond-test -D "$ROOT" > "$T/nspawn.log" 2>&1 &
  NSPAWN_PID=$!
  local state=""
  for _ in $(seq 1 150); do
    # nspawn's child running systemd (before that, a short-lived intermediate child).
    if [ -z "$LEADER" ] || [ "$(cat "/proc/$LEADER/comm" 2>/dev/null)" != systemd ]; then
      LEADER=$( (ps --ppid "$NSPAWN_PID" -o pid=,comm= 2>/dev/null || true) |
                awk '$2 == "systemd" {print $1; exit}')
    fi
    if [ -n "$LEADER" ]; then
      state=$(in_ct systemctl is-system-running 2>/dev/null || true)
      case "$state" in running|degraded) return 0 ;; esac
    fi
    kill -0 "$NSPAWN_PID" 2>/dev/null || break
    sleep 0.1
  done
  if ! kill -0 "$NSPAWN_PID" 2>/dev/null; then
    cat "$T/nspawn.log" >&2
    container_skip "systemd-nspawn cannot boot a container here (log above)"
  fi
  echo "container did not reach running (state '$state')" >&2
  cat "$T/nspawn.log" >&2
  exit 1
}

# in_ct COMMAND...: runs in the container (all its namespaces, its files).
# (lib.sh's empty PROVISIOND_CONFIG is dropped: the operator's provisiond reads its default file.)
in_ct() { env -u PROVISIOND_CONFIG nsenter -t "$LEADER" -a "$@"; }
# in_net COMMAND...: a host program (and host files) on the container's private network.
in_net() { nsenter -t "$LEADER" -n "$@"; }

container_cleanup() {
  if [ -n "$NSPAWN_PID" ] && kill -0 "$NSPAWN_PID" 2>/dev/null; then
    kill -TERM "$NSPAWN_PID" 2>/dev/null || true  # nspawn asks the container's systemd to halt
    for _ in $(seq 1 50); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$NSPAWN_PID" 2>/dev/null || true
    wait "$NSPAWN_PID" 2>/dev/null || true
  fi
  if [ "$ROOT_MOUNTED" = 1 ]; then umount "$ROOT" && ROOT_MOUNTED=0; fi
  [ "$ROOT_MOUNTED" = 1 ] || cleanup  # never rm -rf through a mounted overlay
}
trap container_cleanup EXIT
