#!/usr/bin/env bash
# deps_test.sh — keeps the dependency arrows one way (docs/architecture.md, "Modules"):
# daemon -> db -> ca -> base, device-sim -> ca -> base; the authority room reaches (also through
# the headers it includes) only what its whitelist names (the read side of the store and the write
# queue, never the concrete store nor the whole db::Store), and no clock; a header marked
# "Private to DIR/." is included only from DIR/ (and its mirror under tests/).
# Usage: deps_test.sh [ROOT]   (default: the checkout this script is in). deps_selftest.sh
# proves each rule fails when broken.
set -u
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
modules="base ca db daemon device-sim"
bad=0
fail() { echo "FAIL: $1"; [ -z "$2" ] || echo "$2" | sed "s|$root/||; s/^/  /"; bad=1; }
inc='^[[:space:]]*#[[:space:]]*include[[:space:]]*'

sources() { find "$@" \( -name '*.h' -o -name '*.cc' \) -type f 2>/dev/null | sort; }
includes() {  # includes DIR PATTERN: the #include lines under DIR naming PATTERN, "" or <>
  grep -nE "$inc[<\"]($2)" -r "$root/$1" --include='*.h' --include='*.cc' 2>/dev/null
}
rule() {  # rule DIR PATTERN WHY: nothing under DIR includes PATTERN
  [ -d "$root/$1" ] || { fail "$1/ is missing (the rule for it would pass vacuously)" ""; return; }
  local hits
  hits=$(includes "$1" "$2")
  [ -z "$hits" ] || fail "$1 must not include $3:" "$hits"
}

# One spelling per header: paths from the repository root, no "./" or "../" anywhere in them, so
# every rule below sees every include of our own code.
hits=$(cd "$root" && grep -nE "$inc[<\"]([^>\"]*/)?\.\.?/" -r $modules tests fuzz bench \
         --include='*.h' --include='*.cc' 2>/dev/null)
[ -z "$hits" ] || fail "includes must name the path from the repository root (no ./ or ../):" "$hits"

sockets='sys/socket\.h|netinet/|sys/epoll\.h|sys/eventfd\.h|mbedtls/net_sockets\.h|llhttp'
rule base       'ca/|db/|daemon/|device-sim/|mbedtls/|sqlite3\.h' "our modules, mbedTLS or SQLite"
rule ca         "db/|daemon/|device-sim/|sqlite3\.h|$sockets" "db/, daemon/, device-sim/, SQLite, sockets or HTTP"
rule db         "daemon/|device-sim/|mbedtls/ssl\.h|$sockets" "daemon/, device-sim/, TLS, sockets or HTTP"
rule device-sim 'db/|daemon/|sqlite3\.h' "db/, daemon/ or SQLite"
rule daemon     'device-sim/' "device-sim/"

# The authority decides who may get what; the protocol, the event loop and the concrete store
# call it, never the reverse. Whitelist, checked over the closure of our headers it includes.
room=daemon/authority
room_may='base/|ca/|db/(store_reader|records|manifest_records|issuance_queue)\.h|daemon/authority/'
room_never="mbedtls/ssl\.h|sqlite3\.h|libpq|$sockets"
if [ -d "$root/$room" ]; then
  declare -A seen=()
  queue=$(cd "$root" && sources "$room")
  while [ -n "$queue" ]; do
    next=""
    for f in $queue; do
      [ -n "${seen[$f]:-}" ] && continue
      seen[$f]=1
      while IFS= read -r h; do
        [ -n "$h" ] || continue
        if ! grep -qE "^($room_may)" <<<"$h"; then
          fail "$room reaches $h (through $f): the room may include only $room_may" ""
        elif [ -f "$root/$h" ]; then
          next="$next $h"
        fi
      done < <(grep -oE "$inc[<\"](base|ca|db|daemon|device-sim)/[^>\"]+" "$root/$f" |
                 sed -E "s/$inc[<\"]//")
      hits=$(grep -nE "$inc[<\"]($room_never)" "$root/$f")
      [ -z "$hits" ] || fail "$room reaches a forbidden header through $f:" "$hits"
    done
    queue=$next
  done
else
  fail "$room/ is missing (the rule for it would pass vacuously)" ""
fi

# The authority reads time only through its TimeSource (time_source.cc is the system one).
clock='(^|[^[:alnum:]_])time[[:space:]]*\(|::now[[:space:]]*\(|gettimeofday|clock_gettime|timespec_get|(^|[^[:alnum:]_])clock[[:space:]]*\('
hits=$(grep -nE "$clock" -r "$root/$room" --include='*.h' --include='*.cc' 2>/dev/null |
       grep -v '/time_source\.cc:' | grep -vE ':[0-9]+:[[:space:]]*//')
[ -z "$hits" ] || fail "$room reads a clock outside time_source.cc:" "$hits"

# Private headers: the marker within a header's first 5 lines names the only directory (and its
# mirror under tests/) that may include it, in either spelling ("" or <>).
while IFS= read -r header; do
  rel=${header#"$root/"}
  owner=$(head -n 5 "$header" | sed -nE 's|.*Private to ([A-Za-z0-9_/.-]+)/\..*|\1|p' | head -n 1)
  [ -n "$owner" ] || continue
  case "$rel" in "$owner"/*) ;; *) fail "$rel says it is private to $owner/ but lives outside it" ""; continue ;; esac
  hits=$(grep -rnE "$inc[<\"]${rel//./\\.}[>\"]" "$root" --include='*.h' --include='*.cc' \
           2>/dev/null | grep -vE "^$root/($owner|tests/$owner)/")
  [ -z "$hits" ] || fail "$rel is private to $owner/, included from outside:" "$hits"
done < <(cd "$root" && grep -rlE 'Private to [A-Za-z0-9_/.-]+/\.' $modules --include='*.h' 2>/dev/null |
           sed "s|^|$root/|")

[ $bad -eq 0 ] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
exit $bad
