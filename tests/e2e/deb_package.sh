#!/usr/bin/env bash
# deb_package.sh — the Debian package (docs/packaging.md): CPack builds provisiond_<v>_amd64.deb
# from the build tree; its files, Depends (mbedTLS 3.6, llhttp), conffiles and maintainer scripts
# (never enable or start) are right; lintian is clean; dpkg installs it into a temporary root
# (--root, scripts chrootless with DPKG_ROOT; the host is not touched) making the user and the
# directories; remove keeps config and state; purge removes the config, keeps the state unless
# PROVISIOND_PURGE_STATE=yes.
. "$(dirname "$0")/lib.sh"

: "${PROVISIOND_BUILD_DIR:?PROVISIOND_BUILD_DIR must name the build directory (CPackConfig.cmake)}"
for tool in cpack dpkg-deb dpkg-shlibdeps; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed (dpkg-dev, cmake)" >&2; exit 77; }
done
[ "$(id -u)" -eq 0 ] || { echo "SKIP: dpkg --root needs root to set owners" >&2; exit 77; }

(cd "$PROVISIOND_BUILD_DIR" && cpack -G DEB -B "$T/pkg" >"$T/cpack.log" 2>&1) ||
  { cat "$T/cpack.log" >&2; fail "cpack failed"; finish; }
DEB=$(ls "$T"/pkg/provisiond_*_amd64.deb 2>/dev/null || true)
check "one provisiond_<version>_amd64.deb ($DEB)" test -f "$DEB"
version=$(dpkg-deb -f "$DEB" Version)
expect_eq "file name carries the version" "provisiond_${version}_amd64.deb" "$(basename "$DEB")"

dpkg-deb -c "$DEB" | awk '{print $6}' > "$T/files.txt"
for f in ./usr/bin/provisiond ./usr/bin/device-sim ./usr/lib/systemd/system/provisiond.service \
         ./usr/lib/systemd/system/provisiond.socket ./usr/lib/sysusers.d/provisiond.conf \
         ./usr/lib/tmpfiles.d/provisiond.conf ./etc/provisiond/provisiond.toml \
         ./usr/share/doc/provisiond/ops/provisiond-alerts.yml \
         ./usr/share/doc/provisiond/ops/provisiond-dashboard.json \
         ./usr/share/doc/provisiond/copyright ./usr/share/doc/provisiond/changelog.gz; do
  check "ships $f" grep -qxF "$f" "$T/files.txt"
done
deps=$(dpkg-deb -f "$DEB" Depends)
for lib in libmbedtls21 libmbedx509-7 libmbedcrypto16 libllhttp9.2 libsqlite3-0 libpq5 libsystemd0 \
           libc6 libstdc++6; do
  expect_contains "Depends on $lib" "$lib" "$deps"
done
mbed=$(grep -oE 'libmbedtls21 \(>= [^)]*\)' <<<"$deps" | sed 's/.*>= //; s/)//')
check "libmbedtls21 at least 3.6 ($mbed)" dpkg --compare-versions "${mbed:-0}" ge 3.6
mkdir -p "$T/control" "$T/x"
dpkg-deb -e "$DEB" "$T/control"
dpkg-deb -x "$DEB" "$T/x"
expect_eq "conffiles" "/etc/provisiond/provisiond.toml" "$(cat "$T/control/conffiles")"
expect_contains "the unit runs /usr/bin/provisiond" \
  "ExecStart=/usr/bin/provisiond serve --config /etc/provisiond/provisiond.toml" \
  "$(cat "$T/x/usr/lib/systemd/system/provisiond.service")"
check "the packaged provisiond runs" "$T/x/usr/bin/provisiond" --help >/dev/null
for s in postinst prerm postrm; do
  check "$s: POSIX sh syntax" sh -n "$T/control/$s"
  starts=$(grep -vE '^\s*#' "$T/control/$s" |
           grep -E '(systemctl|deb-systemd-invoke|deb-systemd-helper|invoke-rc\.d|service)\b.*\b(start|restart|enable|try-restart|reload-or-restart)\b' || true)
  expect_eq "$s never starts or enables the service" "" "$starts"
done
if command -v lintian >/dev/null; then
  out=$(lintian --fail-on error,warning "$DEB" 2>&1 | grep -v 'root privileges' || true)
  lintian --fail-on error,warning "$DEB" >/dev/null 2>&1 && rc=0 || rc=$?
  expect_eq "lintian: no error or warning" "0:" "$rc:$out"
else
  echo "note: lintian not installed, not run"
fi

# Install into a temporary root. The host's users and dpkg database must not change.
R="$T/root"
mkdir -p "$R/var/lib/dpkg/updates" "$R/var/lib/dpkg/info" "$R/etc"
touch "$R/var/lib/dpkg/status" "$R/var/lib/dpkg/available"
host_before=$(cat /etc/passwd /etc/group /var/lib/dpkg/status | sha256sum)
DPKG=(dpkg --root="$R" --log=/dev/null --force-script-chrootless --force-depends)
"${DPKG[@]}" -i "$DEB" >"$T/dpkg.log" 2>&1 || fail "dpkg -i: $(cat "$T/dpkg.log")"
expect_eq "installed" "install ok installed" "$(dpkg --root="$R" -s provisiond 2>/dev/null | sed -n 's/^Status: //p')"
uid=$(awk -F: '$1 == "provisiond" {print $3}' "$R/etc/passwd" 2>/dev/null)
check "the provisiond user exists in the root (uid $uid)" test -n "$uid"
expect_eq "its home and shell" "/var/lib/provisiond:/usr/sbin/nologin" \
  "$(awk -F: '$1 == "provisiond" {print $6 ":" $7}' "$R/etc/passwd")"
expect_eq "state dir 0700, owned by provisiond" "700 $uid" "$(stat -c '%a %u' "$R/var/lib/provisiond")"
expect_eq "/etc/provisiond/trust 0755 root" "755 0" "$(stat -c '%a %u' "$R/etc/provisiond/trust")"
check "the config is installed" test -f "$R/etc/provisiond/provisiond.toml"
expect_eq "nothing enabled" "" "$(find "$R/etc/systemd" -name 'provisiond*' 2>/dev/null)"
expect_eq "the host's users and dpkg database are untouched" "$host_before" \
  "$(cat /etc/passwd /etc/group /var/lib/dpkg/status | sha256sum)"
"${DPKG[@]}" -i "$DEB" >"$T/dpkg2.log" 2>&1 || fail "reinstall: $(cat "$T/dpkg2.log")"
expect_eq "a reinstall keeps one user" 1 "$(grep -c '^provisiond:' "$R/etc/passwd")"

# Without systemd-sysusers/systemd-tmpfiles (a system without systemd), the packaged postinst
# falls back to useradd and install: the same user and directories, twice without error.
F="$T/fallback"
mkdir -p "$F/bin" "$F/root/etc"
for t in sh useradd install chmod chown awk; do ln -s "$(command -v "$t")" "$F/bin/$t"; done
for _ in 1 2; do
  DPKG_ROOT="$F/root" PATH="$F/bin" sh "$T/control/postinst" configure >"$T/fb.log" 2>&1 ||
    fail "fallback postinst: $(cat "$T/fb.log")"
done
fuid=$(awk -F: '$1 == "provisiond" {print $3}' "$F/root/etc/passwd" 2>/dev/null)
check "fallback: one provisiond user (uid $fuid)" test "$(grep -c '^provisiond:' "$F/root/etc/passwd")" = 1
expect_eq "fallback: state dir 0700, owned by provisiond" "700 $fuid" \
  "$(stat -c '%a %u' "$F/root/var/lib/provisiond" 2>/dev/null)"
expect_eq "fallback: /etc/provisiond/trust 0755 root" "755 0" \
  "$(stat -c '%a %u' "$F/root/etc/provisiond/trust" 2>/dev/null)"

# What an operator leaves there: an edited config, a trust file, a CA key and a database.
echo '# local edit' >> "$R/etc/provisiond/provisiond.toml"
echo cert > "$R/etc/provisiond/trust/factory-ca.crt"
echo key > "$R/var/lib/provisiond/ca.key"
"${DPKG[@]}" -r provisiond >"$T/dpkg.log" 2>&1 || fail "dpkg -r: $(cat "$T/dpkg.log")"
check "remove: binary gone" test ! -e "$R/usr/bin/provisiond"
check "remove: edited config kept" grep -q 'local edit' "$R/etc/provisiond/provisiond.toml"
check "remove: state kept" test -f "$R/var/lib/provisiond/ca.key"
"${DPKG[@]}" --purge provisiond >"$T/dpkg.log" 2>&1 || fail "dpkg --purge: $(cat "$T/dpkg.log")"
check "purge: /etc/provisiond gone" test ! -e "$R/etc/provisiond"
check "purge: state dir kept" test -f "$R/var/lib/provisiond/ca.key"
expect_contains "purge: says how to remove the state" "PROVISIOND_PURGE_STATE=yes" "$(cat "$T/dpkg.log")"
"${DPKG[@]}" -i "$DEB" >/dev/null 2>&1 || fail "install again"
PROVISIOND_PURGE_STATE=yes "${DPKG[@]}" --purge provisiond >"$T/dpkg.log" 2>&1 || fail "purge: $(cat "$T/dpkg.log")"
check "purge with PROVISIOND_PURGE_STATE=yes: state dir gone" test ! -e "$R/var/lib/provisiond"
expect_eq "nothing of the package left" "" \
  "$(find "$R/usr" "$R/etc" "$R/var/lib" -name '*provisiond*' ! -path "$R/var/lib/dpkg/*" 2>/dev/null)"
expect_eq "the host is still untouched" "$host_before" \
  "$(cat /etc/passwd /etc/group /var/lib/dpkg/status | sha256sum)"
finish
