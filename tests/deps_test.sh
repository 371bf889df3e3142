#!/usr/bin/env bash
# deps_test.sh — keeps the dependency arrows one way (docs/architecture.md, "Modules"):
# daemon -> db -> ca -> base, device-sim -> ca -> base; the authority room includes neither the
# protocol nor the event loop nor a clock; a header marked "Private to DIR/." is included only
# from DIR/ (and its mirror under tests/).
# Usage: deps_test.sh [ROOT]   (default: the checkout this script is in)
set -u
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
bad=0
fail() { echo "FAIL: $1"; [ -z "$2" ] || echo "$2" | sed "s|$root/||; s/^/  /"; bad=1; }

includes() {  # includes DIR PATTERN: the #include lines under DIR matching PATTERN
  grep -nE "^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]($2)" -r "$root/$1" \
    --include='*.h' --include='*.cc' 2>/dev/null
}
rule() {  # rule DIR PATTERN WHY: nothing under DIR includes PATTERN
  [ -d "$root/$1" ] || { fail "$1/ is missing (the rule for it would pass vacuously)" ""; return; }
  local hits
  hits=$(includes "$1" "$2")
  [ -z "$hits" ] || fail "$1 must not include $3:" "$hits"
}

sockets='sys/socket\.h|netinet/|sys/epoll\.h|sys/eventfd\.h|mbedtls/net_sockets\.h|llhttp'
rule base       'ca/|db/|daemon/|device-sim/|mbedtls/|sqlite3\.h' "our modules, mbedTLS or SQLite"
rule ca         "db/|daemon/|device-sim/|sqlite3\.h|$sockets" "db/, daemon/, device-sim/, SQLite, sockets or HTTP"
rule db         "daemon/|device-sim/|mbedtls/ssl\.h|$sockets" "daemon/, device-sim/, TLS, sockets or HTTP"
rule device-sim 'db/|daemon/|sqlite3\.h' "db/, daemon/ or SQLite"
rule daemon     'device-sim/' "device-sim/"
# The authority decides who may get what; the protocol and the event loop call it, never the reverse.
rule daemon/authority \
  "daemon/(tls|http|est)/|daemon/(connection|worker|server|serve|post_queue|net|metrics_http|systemd)\.h|mbedtls/ssl\.h|sqlite3\.h|db/sqlite_store\.h|db/writer\.h|$sockets" \
  "TLS, HTTP, EST, the event loop, sockets, or a concrete store (only the db/ interfaces)"

# The authority reads time only through its TimeSource (time_source.cc is the system one).
hits=$(grep -nE '(std::)?\btime\(|::now\(\)|gettimeofday|clock_gettime' -r "$root/daemon/authority" \
         --include='*.h' --include='*.cc' 2>/dev/null | grep -v '/time_source\.cc:' | grep -vE ':[0-9]+:[[:space:]]*//')
[ -z "$hits" ] || fail "daemon/authority reads a clock outside time_source.cc:" "$hits"

# Private headers: the marker within a header's first 5 lines names the only directory (and its
# mirror under tests/) that may include it.
while IFS= read -r header; do
  rel=${header#"$root/"}
  owner=$(head -n 5 "$header" | sed -nE 's|.*Private to ([A-Za-z0-9_/.-]+)/\..*|\1|p' | head -n 1)
  [ -n "$owner" ] || continue
  case "$rel" in "$owner"/*) ;; *) fail "$rel says it is private to $owner/ but lives outside it" ""; continue ;; esac
  hits=$(grep -rnE "^[[:space:]]*#[[:space:]]*include[[:space:]]*\"$rel\"" "$root" \
           --include='*.h' --include='*.cc' 2>/dev/null |
         grep -vE "^$root/($owner|tests/$owner)/")
  [ -z "$hits" ] || fail "$rel is private to $owner/, included from outside:" "$hits"
done < <(grep -rlE 'Private to [A-Za-z0-9_/.-]+/\.' "$root/base" "$root/ca" "$root/db" "$root/daemon" \
           "$root/device-sim" --include='*.h' 2>/dev/null)

[ $bad -eq 0 ] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
exit $bad
