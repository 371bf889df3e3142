#!/usr/bin/env python3
# render_reference.py — section 3e of docs/benchmarks.md's results: provisiond side by side with
# the EST reference server, from reference.tsv (bench/steps/45_reference.sh). Run: render_reference.py RESULTS_DIR
import csv
import os
import sys


def _rows(results):
    with open(os.path.join(results, "reference.tsv"), newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def reference_runs(rows, meta, out):
    out += [f"### 3e. Side by side with the EST reference server ({meta.get('reference_server', '?')}"
            f"; bench/est_load.py, TLS 1.2, {meta.get('reference_runs', '?')}, servers alternated)",
            "",
            "Server CPU = utime+stime of the server process from /proc across the run ÷ "
            "enrollments; the driver shares the 2 cores.", "",
            "Steady: without the first and the last *concurrency* enrollments to start (the "
            "first wave, all connections opened at once, and the drain). Local: each latency ÷ "
            "the median of the 2×concurrency+1 enrollments that started around it, p99 ÷ p50 of "
            "that (unequal treatment of concurrent enrollments without the load's drift).", "",
            "| server | round | concurrency | ok | failed | enrollments/s | p50 ms | p99 ms | "
            "p99/p50 | steady p50 | steady p99 | steady p99/p50 | local p99/p50 | "
            "server CPU ms / enrollment | load |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        out.append(f"| {r['server']} | {r['round']} | {r['concurrency']} | {r['ok']} | "
                   f"{r['failed']} | {r['rate_per_second']} | {r['p50_ms']} | {r['p99_ms']} | "
                   f"{r['p99_over_p50']} | {r['steady_p50_ms']} | {r['steady_p99_ms']} | "
                   f"{r['steady_p99_over_p50']} | {r.get('local_p99_over_p50', '-')} | "
                   f"{r['server_cpu_ms_per_enrollment']} | "
                   f"{r['load']} |")
    out += ["", "Mean over the rounds:", "",
            "| server | concurrency | enrollments/s | p50 ms | p99 ms | p99/p50 | steady p99/p50 | "
            "server CPU ms / enrollment |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    keys = []
    for r in rows:
        if (r["server"], r["concurrency"]) not in keys:
            keys.append((r["server"], r["concurrency"]))
    for server, conc in sorted(keys, key=lambda k: (int(k[1]), k[0])):
        sel = [r for r in rows if r["server"] == server and r["concurrency"] == conc]

        def mean(col, sel=sel):
            return sum(float(r[col]) for r in sel) / len(sel)
        out.append(f"| {server} | {conc} | {mean('rate_per_second'):.1f} | {mean('p50_ms'):.0f} | "
                   f"{mean('p99_ms'):.0f} | {mean('p99_over_p50'):.2f} | "
                   f"{mean('steady_p99_over_p50'):.2f} | "
                   f"{mean('server_cpu_ms_per_enrollment'):.2f} |")
    out.append("")
    return out


def main():
    results = sys.argv[1]
    meta = {}
    path = os.path.join(results, "meta.tsv")
    if os.path.exists(path):
        with open(path, newline="") as f:
            meta = {r["key"]: r["value"] for r in csv.DictReader(f, delimiter="\t")}
    print("\n".join(reference_runs(_rows(results), meta, [])))


if __name__ == "__main__":
    main()
