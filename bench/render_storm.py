# render_storm.py — issue #18's storm: the curve of a device-sim --json timeline (certificates
# issued, 503/429 answers and connection retries per second) as a PNG, and storm.tsv's markdown
# rows for docs/benchmarks.md. Run by bench/steps/88_storm.sh; importable by render.py.
import argparse
import json


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


def plot(doc, png):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    per = doc["timeline"]["per_second"]
    n = max(len(v) for v in per.values())
    xs = list(range(n))
    fig, ax = plt.subplots(figsize=(9, 4.5))
    labels = {"issued": "certificates issued", "retry_status": "503/429 answers",
              "connect_retries": "connections refused/reset, retried"}
    for key, label in labels.items():
        ys = per[key] + [0] * (n - len(per[key]))
        ax.plot(xs, ys, label=f"{label} ({sum(ys)})", linewidth=1.2)
    ax.set_xlabel("seconds since the storm started")
    ax.set_ylabel("per second")
    ax.set_title(f"storm: {doc['planned']} devices at once — ok {doc['ok']}, failed "
                 f"{doc['failed']}, {doc['elapsed_seconds']:.1f} s")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(png, dpi=100)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--png", required=True)
    ap.add_argument("json")
    args = ap.parse_args()
    with open(args.json) as f:
        plot(json.load(f), args.png)


if __name__ == "__main__":
    main()
