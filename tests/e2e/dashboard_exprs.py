#!/usr/bin/env python3
# dashboard_exprs.py — reads a Grafana dashboard JSON: `exprs FILE` prints each panel's PromQL
# (Grafana variables replaced so Prometheus can run it), one per line as "panel<TAB>expr";
# `names FILE` prints "panel<TAB>metric" for every metric name an expression reads.
import json
import re
import sys

KEYWORDS = {"by", "without", "and", "or", "unless", "offset", "bool", "on", "ignoring",
            "group_left", "group_right", "inf", "nan"}


def exprs(path):
    with open(path) as f:
        dash = json.load(f)
    out = []
    for panel in dash["panels"]:
        targets = panel.get("targets", [])
        if not targets:
            sys.exit(f"panel {panel.get('title')!r} has no query")
        for t in targets:
            e = t["expr"].replace("$__rate_interval", "1m").replace('"$instance"', '".*"')
            out.append((panel["title"], " ".join(e.split())))
    return out


def names(expr):
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)       # string literals
    e = re.sub(r"\{[^}]*\}", "", e)                      # label matchers
    e = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", e)  # grouping labels
    e = re.sub(r"\[[^\]]*\]", "", e)                     # ranges
    found = []
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", e):
        word = m.group(0)
        rest = e[m.end():].lstrip()
        if rest.startswith("(") or word.lower() in KEYWORDS:
            continue  # a function or an operator keyword
        found.append(word)
    return found


if __name__ == "__main__":
    mode, path = sys.argv[1], sys.argv[2]
    for title, e in exprs(path):
        if mode == "exprs":
            print(f"{title}\t{e}")
        else:
            used = names(e)
            if not used:
                print(f"{title}\t<no metric in: {e}>")
            for n in used:
                print(f"{title}\t{n}")
