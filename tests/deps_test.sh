#!/usr/bin/env bash
# deps_test.sh — keeps the dependency arrows one way (see docs/architecture.md):
# daemon -> db -> ca, device-sim -> ca; ca/ uses no sockets and no SQLite; db/ no sockets.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
bad=0
rule() {  # rule DIR PATTERN WHY
  local hits
  hits=$(grep -nE "^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]($2)" -r "$root/$1" \
           --include='*.h' --include='*.cc' 2>/dev/null)
  if [ -n "$hits" ]; then
    echo "FAIL: $1 must not include $3:"; echo "$hits" | sed "s|$root/||; s/^/  /"; bad=1
  fi
}
rule ca        'db/|daemon/|device-sim/|sqlite3\.h|sys/socket\.h|netinet/|mbedtls/net_sockets\.h|llhttp' \
   "db/, daemon/, device-sim/, SQLite, sockets or HTTP"
rule db        'daemon/|device-sim/|sys/socket\.h|netinet/|llhttp' "daemon/, device-sim/, sockets or HTTP"
rule device-sim 'db/|daemon/|sqlite3\.h' "db/, daemon/ or SQLite"
rule daemon    'device-sim/' "device-sim/"
[ $bad -eq 0 ] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
exit $bad
