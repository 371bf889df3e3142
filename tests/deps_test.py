#!/usr/bin/env python3
# deps_test.py — keeps the dependency arrows one way (docs/architecture.md, "Modules"):
# daemon -> db -> ca -> base, device-sim -> ca -> base; the authority room reaches (also through
# the headers it includes) only what its whitelist names (the read side of the store and the write
# queue, never the concrete store nor the whole db::Store), and no clock; a header marked
# "Private to DIR/." is included only from DIR/ (and its mirror under tests/).
# Usage: deps_test.py [ROOT]   (default: the checkout this script is in). deps_selftest.sh
# proves each rule fails when broken. Every source file is read once (the shell version this
# replaces forked a grep per header and took ~190 s of CI in deps_selftest's 29 runs).
import os
import re
import sys

root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), ".."))
MODULES = ["base", "ca", "db", "daemon", "device-sim"]
INC = r"^\s*#\s*include\s*"
bad = False


def fail(message, hits=()):
    global bad
    bad = True
    print(f"FAIL: {message}")
    for h in hits:
        print("  " + h)


def sources(top):
    """(relative path, lines) of every .h/.cc under ROOT/TOP, build directories aside, sorted."""
    out = []
    for d, dirs, files in os.walk(os.path.join(root, top)):
        dirs[:] = sorted(x for x in dirs if not x.startswith("build") and x != ".git")
        for f in sorted(files):
            if f.endswith((".h", ".cc")):
                p = os.path.join(d, f)
                with open(p, encoding="utf-8", errors="replace") as fh:
                    out.append((os.path.relpath(p, root), fh.read().split("\n")))
    return out


def grep(files, pattern):
    """path:line:text of every line of FILES matching PATTERN (like grep -n)."""
    rx = re.compile(pattern)
    return [f"{p}:{n}:{t}" for p, lines in files for n, t in enumerate(lines, 1) if rx.search(t)]


tree = {top: sources(top) for top in MODULES + ["tests", "fuzz", "bench"] if os.path.isdir(os.path.join(root, top))}
everything = [f for top in tree for f in tree[top]]

# One spelling per header: paths from the repository root, no "./" or "../" anywhere in them, so
# every rule below sees every include of our own code.
hits = grep(everything, INC + r"[<\"]([^>\"]*/)?\.\.?/")
if hits:
    fail("includes must name the path from the repository root (no ./ or ../):", hits)

SOCKETS = r"sys/socket\.h|netinet/|sys/epoll\.h|sys/eventfd\.h|mbedtls/net_sockets\.h|llhttp"


def rule(top, pattern, why):  # nothing under TOP includes PATTERN
    if top not in tree:
        fail(f"{top}/ is missing (the rule for it would pass vacuously)")
        return
    hits = grep(tree[top], INC + r"[<\"](" + pattern + ")")
    if hits:
        fail(f"{top} must not include {why}:", hits)


rule("base", r"ca/|db/|daemon/|device-sim/|mbedtls/|sqlite3\.h", "our modules, mbedTLS or SQLite")
rule("ca", r"db/|daemon/|device-sim/|sqlite3\.h|" + SOCKETS, "db/, daemon/, device-sim/, SQLite, sockets or HTTP")
rule("db", r"daemon/|device-sim/|mbedtls/ssl\.h|" + SOCKETS, "daemon/, device-sim/, TLS, sockets or HTTP")
rule("device-sim", r"db/|daemon/|sqlite3\.h", "db/, daemon/ or SQLite")
rule("daemon", r"device-sim/", "device-sim/")

# The authority decides who may get what; the protocol, the event loop and the concrete store
# call it, never the reverse. Whitelist, checked over the closure of our headers it includes.
ROOM = "daemon/authority"
ROOM_MAY = r"base/|ca/|db/(store_reader|records|manifest_records|issuance_queue)\.h|daemon/authority/"
ROOM_NEVER = r"mbedtls/ssl\.h|sqlite3\.h|libpq|" + SOCKETS
by_path = dict(everything)
room_files = [f for f in everything if f[0].startswith(ROOM + "/")]
if room_files:
    seen = set()
    queue = [p for p, _ in room_files]
    own = re.compile(INC + r"[<\"]((base|ca|db|daemon|device-sim)/[^>\"]+)")
    never = re.compile(INC + r"[<\"](" + ROOM_NEVER + ")")
    while queue:
        following = []
        for f in queue:
            if f in seen:
                continue
            seen.add(f)
            lines = by_path.get(f)
            if lines is None:
                continue
            for t in lines:
                m = own.search(t)
                if not m:
                    continue
                h = m.group(1)
                if not re.match(ROOM_MAY, h):
                    fail(f"{ROOM} reaches {h} (through {f}): the room may include only {ROOM_MAY}")
                elif h in by_path:
                    following.append(h)
            hits = [f"{n}:{t}" for n, t in enumerate(lines, 1) if never.search(t)]
            if hits:
                fail(f"{ROOM} reaches a forbidden header through {f}:", hits)
        queue = following
else:
    fail(f"{ROOM}/ is missing (the rule for it would pass vacuously)")

# The authority reads time only through its TimeSource (time_source.cc is the system one).
CLOCK = (r"(^|[^A-Za-z0-9_])time\s*\(|::now\s*\(|gettimeofday|clock_gettime|timespec_get|"
         r"(^|[^A-Za-z0-9_])clock\s*\(")
hits = [h for h in grep(room_files, CLOCK)
        if not h.startswith(ROOM + "/time_source.cc:") and not re.match(r"[^:]+:[0-9]+:\s*//", h)]
if hits:
    fail(f"{ROOM} reads a clock outside time_source.cc:", hits)

# Private headers: the marker within a header's first 5 lines names the only directory (and its
# mirror under tests/) that may include it, in either spelling ("" or <>).
all_includes = grep(everything, INC + r"[<\"]")
marker = re.compile(r"Private to ([A-Za-z0-9_/.-]+)/\.")
for rel, lines in (f for top in MODULES if top in tree for f in tree[top]):
    if not rel.endswith(".h") or not any(marker.search(t) for t in lines):
        continue
    owner = next((m.group(1) for t in lines[:5] for m in [marker.search(t)] if m), None)
    if owner is None:
        continue
    if not rel.startswith(owner + "/"):
        fail(f"{rel} says it is private to {owner}/ but lives outside it")
        continue
    named = re.compile(r"^[^:]+:[0-9]+:" + INC[1:] + r"[<\"]" + re.escape(rel) + r"[>\"]")
    hits = [h for h in all_includes
            if named.search(h) and not h.startswith((owner + "/", "tests/" + owner + "/"))]
    if hits:
        fail(f"{rel} is private to {owner}/, included from outside:", hits)

print("0 passed, 1 failed" if bad else "1 passed, 0 failed")
sys.exit(1 if bad else 0)
