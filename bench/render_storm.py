# render_storm.py — issue #18's storm: the curve of a device-sim --json timeline (certificates
# issued, 503/429 answers and connection retries per second) as a PNG, and storm.tsv's markdown
# rows for docs/benchmarks.md. Run by bench/steps/88_storm.sh; importable by render.py.
import argparse
import json
import os
import subprocess
import tempfile


def storm_rows(rows):
    """Markdown lines for the rows of storm.tsv (dicts of strings)."""
    out = ["| devices | sustained /s (c=64) | storm s | target s (1.25 × n ÷ rate) | ok | failed "
           "| 503/429 | connection retries | Retry-After values | RSS before / peak / after KiB "
           "| certificates | load |", "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|"]
    for r in rows:
        out.append(f"| {r['devices']} | {float(r['sustained_rate']):.1f} | "
                   f"{float(r['storm_seconds']):.1f} | {r['target_seconds']} | {r['ok']} | "
                   f"{r['failed']} | {r['status_retries']} | {r['connect_retries']} | "
                   f"{r['retry_after_distinct']} | {r['rss_before_kib']} / {r['rss_peak_kib']} / "
                   f"{r['rss_after_kib']} (+{r['after_seconds']} s) | {r['certificates']} | "
                   f"{r['load_storm']} |")
    return out


def plot(doc, png, target=None):
    """Draws the per-second curves and the running total of certificates (right axis) with
    gnuplot (gnuplot-nox, as 90_histogram.sh does); target: the time target, a vertical line."""
    per = doc["timeline"]["per_second"]
    n = max(len(v) for v in per.values())
    labels = {"issued": "certificates issued", "retry_status": "503/429 answers",
              "connect_retries": "connections refused/reset, retried"}
    cols = {k: per[k] + [0] * (n - len(per[k])) for k in labels}
    total = 0
    with tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False) as data:
        for i in range(n):
            total += cols["issued"][i]
            data.write("\t".join([str(i)] + [str(cols[k][i]) for k in labels] + [str(total)])
                       + "\n")
    title = (f"storm: {doc['planned']} devices at once - ok {doc['ok']}, failed {doc['failed']}, "
             f"{doc['elapsed_seconds']:.1f} s")
    curves = ", ".join(f"'{data.name}' using 1:{i + 2} with lines lw 1.5 "
                       f"title '{label} ({sum(cols[k])})'"
                       for i, (k, label) in enumerate(labels.items()))
    curves += (f", '{data.name}' using 1:{len(labels) + 2} axes x1y2 with lines lw 2 dt 2 "
               f"title 'certificates so far (right axis)'")
    marks = ""
    if target:
        marks = (f"set arrow from {target},graph 0 to {target},graph 1 nohead dt 3 lw 1.5\n"
                 f"set label 'target {target} s' at {target},graph 0.55 left offset 0.5,0\n")
    script = (f"set terminal pngcairo size 900,450 font ',10'\nset output '{png}'\n"
              f"set title \"{title}\"\nset xlabel 'seconds since the storm started'\n"
              f"set ylabel 'per second'\nset y2label 'certificates'\nset y2tics\nset ytics nomirror\n"
              f"set grid\nset key top left\n{marks}plot {curves}\n")
    try:
        subprocess.run(["gnuplot"], input=script, text=True, check=True)
    finally:
        os.unlink(data.name)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--png", required=True)
    ap.add_argument("--target", type=float, help="the time target in seconds (a vertical line)")
    ap.add_argument("json")
    args = ap.parse_args()
    with open(args.json) as f:
        plot(json.load(f), args.png, args.target)


if __name__ == "__main__":
    main()
