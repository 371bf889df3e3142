#!/usr/bin/env bash
# deps_selftest.sh — proves deps_test.py fails for each kind of arrow it guards: it copies the
# sources to a temp dir, adds one forbidden #include at a time, and expects the named FAIL line.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for d in base ca db daemon device-sim; do cp -r "$root/$d" "$tmp/$d"; done
passed=0 failed=0

check() {  # check NAME FILE LINE EXPECTED: appending LINE to FILE must make deps_test.py print EXPECTED
  local name=$1 file=$2 line=$3 expected=$4 out
  cp "$tmp/$file" "$tmp/$file.orig"
  echo "$line" >> "$tmp/$file"
  out=$(python3 "$here/deps_test.py" "$tmp" 2>&1)
  if [ $? -ne 0 ] && grep -qF -- "$expected" <<<"$out"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1)); echo "FAIL: $name: expected '$expected', got:"; echo "$out" | sed 's/^/  /'
  fi
  mv "$tmp/$file.orig" "$tmp/$file"
}

out=$(python3 "$here/deps_test.py" "$tmp" 2>&1) ||
  { echo "FAIL: the unmodified copy does not pass:"; echo "$out"; exit 1; }

check base-up      base/error.h '#include "ca/cert.h"' "base must not include"
check ca-up        ca/cert.h '#include "db/store.h"' "ca must not include"
check ca-sockets   ca/cert.cc '#include <sys/socket.h>' "ca must not include"
check db-up        db/store.h '#include "daemon/config.h"' "db must not include"
check sim-db       device-sim/main.cc '#include "db/store.h"' "device-sim must not include"
check daemon-sim   daemon/main.cc '#include "device-sim/outcome.h"' "daemon must not include"
check auth-tls     daemon/authority/time_source.h '#include "daemon/tls/session.h"' "daemon/authority reaches"
check auth-http    daemon/authority/time_source.h '#include "daemon/http/response.h"' "daemon/authority reaches"
check auth-worker  daemon/authority/time_source.h '#include "daemon/post_queue.h"' "daemon/authority reaches"
check auth-sqlite  daemon/authority/time_source.h '#include "db/writer.h"' "daemon/authority reaches"
check relative     daemon/authority/time_source.h '#include "../tls/session.h"' "no ./ or ../"
check relative-ca  ca/cert.h '#include "../db/store.h"' "no ./ or ../"
check dot-path     daemon/server.cc '#include "db/./operations.h"' "no ./ or ../"
check auth-angle   daemon/authority/time_source.h '#include <daemon/tls/session.h>' "daemon/authority reaches daemon/tls/session.h"
check auth-other   daemon/authority/time_source.h '#include "daemon/log.h"' "daemon/authority reaches daemon/log.h"
check auth-config  daemon/authority/time_source.h '#include "daemon/config.h"' "daemon/authority reaches daemon/config.h"
check auth-store   daemon/authority/time_source.h '#include "db/store.h"' "daemon/authority reaches db/store.h"
check auth-through db/records.h '#include "db/store.h"' "daemon/authority reaches db/store.h (through db/records.h)"
check auth-sockets daemon/authority/time_source.h '#include <sys/socket.h>' "daemon/authority reaches a forbidden header"
check auth-sockets-through ca/cert.h '#include <sys/socket.h>' "daemon/authority reaches a forbidden header through ca/cert.h"
check auth-clock-sp daemon/authority/enrollment.cc 'static long T() { return time (nullptr); }' "reads a clock outside time_source.cc"
check auth-clock-sys daemon/authority/enrollment.cc 'static auto T() { return std::chrono::system_clock::now (); }' "reads a clock outside time_source.cc"
check auth-timespec daemon/authority/enrollment.cc 'static void T(timespec* t) { timespec_get(t, TIME_UTC); }' "reads a clock outside time_source.cc"
check private-angle daemon/server.cc '#include <daemon/authority/attempt.h>' "is private to daemon/authority/, included from outside"
check auth-clock   daemon/authority/enrollment.cc 'static long T() { return std::time(nullptr); }' "reads a clock outside time_source.cc"
check auth-steady  daemon/authority/rate_limiter.cc 'static auto S() { return std::chrono::steady_clock::now(); }' "reads a clock outside time_source.cc"
check auth-private daemon/server.cc '#include "daemon/authority/attempt.h"' "is private to daemon/authority/, included from outside"
priv=$(grep -rlE 'Private to db/\.' "$tmp/db" --include='*.h' | head -n 1)
if [ -n "$priv" ]; then
  check private-db daemon/main.cc "#include \"${priv#"$tmp/"}\"" "is private to db/, included from outside"
else
  failed=$((failed + 1)); echo "FAIL: no header in db/ carries the 'Private to db/.' marker"
fi

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
