#!/usr/bin/env bash
# systemd_units.sh — `cmake --install` into a temp prefix puts the binaries, units, sysusers.d and
# tmpfiles.d entries and the example config where they belong; the installed units pass
# `systemd-analyze verify` and `systemd-analyze security --offline=true` at exposure <= 1.5;
# sysusers/tmpfiles create the user and directories (as root, under a temp --root). Works
# without systemd as PID 1.
. "$(dirname "$0")/lib.sh"

BUILD=$(cd "$(dirname "$PROVISIOND")/.." && pwd)
[ -f "$BUILD/CMakeCache.txt" ] || { echo "no build dir above $PROVISIOND" >&2; exit 1; }
PREFIX="$T/prefix"
cmake --install "$BUILD" --prefix "$PREFIX" > "$T/install.log"

for f in bin/provisiond bin/device-sim lib/systemd/system/provisiond.service \
         lib/systemd/system/provisiond.socket lib/sysusers.d/provisiond.conf \
         lib/tmpfiles.d/provisiond.conf share/doc/provisiond/provisiond.toml.example; do
  check "installed $f" test -f "$PREFIX/$f"
done
UNIT="$PREFIX/lib/systemd/system/provisiond.service"
expect_contains "ExecStart names the installed binary" \
  "ExecStart=$PREFIX/bin/provisiond serve --config /etc/provisiond/provisiond.toml" "$(cat "$UNIT")"
expect_contains "Type=notify" "Type=notify" "$(cat "$UNIT")"
expect_contains "reload checks the config first" \
  "ExecReload=$PREFIX/bin/provisiond check-config --config /etc/provisiond/provisiond.toml" "$(cat "$UNIT")"
expect_contains "reload is SIGHUP without /bin/kill" \
  "ExecReload=/bin/sh -c 'kill -HUP \"\$1\"' provisiond-reload \$MAINPID" "$(cat "$UNIT")"
expect_contains "state dir is the service's writable place" "StateDirectory=provisiond" "$(cat "$UNIT")"

# verify loads the units as systemd would: unknown settings, missing binaries, bad sockets.
if out=$(systemd-analyze verify "$UNIT" "$PREFIX/lib/systemd/system/provisiond.socket" 2>&1); then
  pass "systemd-analyze verify is clean"
else
  fail "systemd-analyze verify: $out"
fi
expect_eq "systemd-analyze verify prints nothing" "" "$out"

sec=$(systemd-analyze security --offline=true "$UNIT" 2>&1 || true)
score=$(printf '%s\n' "$sec" | sed -n 's/.*Overall exposure level for provisiond.service: \([0-9.]*\) \([A-Z]*\).*/\1 \2/p')
echo "systemd-analyze security: $score"
check "exposure at most 1.5 (got '$score')" \
  awk -v s="${score%% *}" 'BEGIN { exit !(s != "" && s + 0 <= 1.5) }'
expect_eq "rated OK" "OK" "${score##* }"

# The example config is a valid config: check-config accepts it up to the files it names.
out=$("$PREFIX/bin/provisiond" check-config --config "$PREFIX/share/doc/provisiond/provisiond.toml.example" 2>&1 || true)
expect_contains "example config parses (only missing files reported)" "/var/lib/provisiond" "$out"
if printf '%s\n' "$out" | grep -q "not able to parse\|was not readable"; then
  fail "example config does not parse: $out"
fi

if [ "$(id -u)" = 0 ]; then
  mkdir -p "$T/root/etc"
  systemd-sysusers --root="$T/root" "$PREFIX/lib/sysusers.d/provisiond.conf" >/dev/null 2>&1
  check "sysusers creates the provisiond user" grep -q '^provisiond:' "$T/root/etc/passwd"
  systemd-tmpfiles --create --root="$T/root" "$PREFIX/lib/tmpfiles.d/provisiond.conf"
  uid=$(awk -F: '$1 == "provisiond" {print $3}' "$T/root/etc/passwd")
  expect_eq "state dir 0700, owned by provisiond" "700 $uid" \
    "$(stat -c '%a %u' "$T/root/var/lib/provisiond")"
  expect_eq "config dir 0755 root" "755 0" "$(stat -c '%a %u' "$T/root/etc/provisiond")"
else
  echo "skip: sysusers/tmpfiles checks need root"
fi

finish
