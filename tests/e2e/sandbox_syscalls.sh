#!/usr/bin/env bash
# sandbox_syscalls.sh — what systemd-analyze cannot tell: does provisiond, doing real work, stay
# inside the sandbox provisiond.service sets up? Runs check-config and serve (an enrollment, a
# handshake failure, a reload, metrics, SIGTERM) under strace and checks every system call made
# against the unit's SystemCallFilter= (expanded by `systemd-analyze syscall-filter`), every
# socket family against RestrictAddressFamilies=, and that no mapping is both writable and
# executable (MemoryDenyWriteExecute=). Without systemd as PID 1 this is the closest check.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/service_lib.sh"

# A sanitizer build makes other system calls than the one installed, and LeakSanitizer cannot
# run under ptrace; a DAEMON_WRAPPER (valgrind) cannot run under strace either.
# (Not `ldd | grep -q`: under pipefail, grep -q quitting early makes ldd die of SIGPIPE and the
# pipeline false, so an ASan binary would sometimes not be recognized.)
libs=$(ldd "$PROVISIOND")
if grep -qE 'lib(a|t|ub|l)san' <<<"$libs" || [ -n "${DAEMON_WRAPPER:-}" ]; then
  echo "skip: sanitizer build or DAEMON_WRAPPER; the sandbox check needs the plain binary"
  finish
  exit 0
fi
UNIT_IN="$(dirname "$0")/../../systemd/provisiond.service.in"
init_state
"$DEVICE_SIM" factory --out "$T/fleet" --count 2 >/dev/null
"$DEVICE_SIM" factory --out "$T/fleet" --count 1 --prefix expired- --kind expired >/dev/null

strace -f -qq -o "$T/check.strace" "$PROVISIOND" check-config --state-dir "$T/state" \
  --trust "$T/fleet/factory-ca.crt" > /dev/null
REAL=$PROVISIOND
PROVISIOND="$T/traced"
printf '#!/bin/sh\nexec strace -f -qq -o "%s" "%s" "$@"\n' "$T/serve.strace" "$REAL" > "$PROVISIOND"
chmod +x "$PROVISIOND"
start_daemon --trust "$T/fleet/factory-ca.crt" --metrics-listen 0
PROVISIOND=$REAL
# Signals go to provisiond itself (strace would detach and leave it running); strace exits with
# its exit status.
STRACE_PID=$DAEMON_PID
DAEMON_PID=$(pgrep -P "$STRACE_PID" -x provisiond)
SIM=("$DEVICE_SIM" enroll --fleet "$T/fleet" --server "127.0.0.1:$PORT" --ca-bundle "$CA")
expect_contains "enrollment under strace" "ok=2 failed=0" "$("${SIM[@]}" --devices dev-00001,dev-00002)"
"${SIM[@]}" --devices expired-00001 >/dev/null 2>&1 || true
MPORT=$(sed -n 's/^<5>metrics_listening address=127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$T/daemon.log")
curl -sS -o /dev/null "http://127.0.0.1:$MPORT/metrics"
kill -HUP "$DAEMON_PID"
check "reloaded" wait_for_line "$T/daemon.log" '^<5>reloaded '
kill -TERM "$DAEMON_PID"
rc=0
wait "$STRACE_PID" || rc=$?
DAEMON_PID=""
expect_eq "exit 0" 0 "$rc"

# The unit's filter, expanded: allowed = @system-service minus the groups after '~'.
allow=$(sed -n 's/^SystemCallFilter=\([^~].*\)/\1/p' "$UNIT_IN")
deny=$(sed -n 's/^SystemCallFilter=~\(.*\)/\1/p' "$UNIT_IN")
families=$(sed -n 's/^RestrictAddressFamilies=\(.*\)/\1/p' "$UNIT_IN")
expect_eq "filter read from the unit" "@system-service|@privileged @resources" "$allow|$deny"
systemd-analyze syscall-filter > "$T/groups.txt" 2>/dev/null
out=$(python3 - "$T/groups.txt" "$allow" "$deny" "$families" "$T/check.strace" "$T/serve.strace" <<'PY'
import os, re, sys
groups, cur = {}, None
for line in open(sys.argv[1]):
    if line.startswith("@"):
        cur = line.strip(); groups[cur] = []
    elif cur and line.strip() and not line.strip().startswith("#"):
        groups[cur].append(line.strip())
def expand(names, seen=None):
    out = set()
    for n in names.split() if isinstance(names, str) else names:
        out |= expand(groups.get(n, []), seen) if n.startswith("@") else {n}
    return out
allowed = expand(sys.argv[2]) - expand(sys.argv[3])
# SQLite gives a new -wal/-shm file the database's owner with fchown(), but only when running
# as root (os_unix.c robustFchown: "osGeteuid() ? 0 : osFchown(...)"). The service runs as
# User=provisiond, so it never calls it there; this test may run as root.
if os.geteuid() == 0:
    allowed.add("fchown")
families = set(sys.argv[4].split())
used, fams, wx = set(), set(), []
for path in sys.argv[5:]:
    for line in open(path):
        m = re.match(r"\d+\s+([a-z0-9_]+)\((.*)", line)
        if not m: continue
        used.add(m.group(1))
        if m.group(1) == "socket":
            fams.add(m.group(2).split(",")[0])
        if m.group(1) in ("mmap", "mprotect") and "PROT_WRITE" in line and "PROT_EXEC" in line:
            wx.append(line.strip())
print("syscalls", len(used))
print("outside the filter:", " ".join(sorted(used - allowed)) or "none")
print("families outside RestrictAddressFamilies:", " ".join(sorted(fams - families)) or "none")
print("writable+executable mappings:", len(wx))
PY
)
echo "$out"
expect_contains "strace saw the daemon work" "syscalls " "$out"
expect_contains "every system call is inside SystemCallFilter=" "outside the filter: none" "$out"
expect_contains "every socket family is allowed" "families outside RestrictAddressFamilies: none" "$out"
expect_contains "no W+X mapping (MemoryDenyWriteExecute=)" "writable+executable mappings: 0" "$out"

finish
