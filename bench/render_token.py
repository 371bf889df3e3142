# render_token.py — section 3d of docs/benchmarks.md's results, imported by render.py: server CPU
# and latency per enrollment with the CA key in SoftHSM2 and in a file, from token.tsv.
from render_store import fmt


def token_runs(run, out):
    rows = run.tables["token"]
    out += [f"### 3d. The CA key in a PKCS#11 token (SoftHSM2 {run.m('token_softhsm')}, in the "
            f"daemon's process) vs a file (device-sim enroll --concurrency "
            f"{run.m('token_concurrency')}, {run.m('token_devices')} fresh devices a run, "
            "serve --workers 2; file and token alternated)", "",
            "Daemon CPU = its utime+stime from /proc across the run ÷ enrollments; SoftHSM2 signs "
            "inside the daemon, so its cost is in it.", "",
            "| run | CA key | ok | failed | enrollments/s | p50 ms | p99 ms | **daemon CPU ms / "
            "enrollment** | load |", "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    cpu = {"file": [], "token": []}
    for r in rows:
        ok = int(r["ok"])
        ms = int(r["daemon_cpu_ticks"]) / run.hz * 1000 / ok if ok > 0 else 0.0
        if ok > 0:
            cpu[r["key"]].append(ms)
        out.append(f"| {r['run']} | {r['key']} | {ok} | {r['failed']} | {r['rate_per_second']} | "
                   f"{r['p50_ms']} | {r['p99_ms']} | **{fmt(ms, 3)}** | {r['load']} |")
    out.append("")
    if cpu["file"] and cpu["token"]:
        f = sum(cpu["file"]) / len(cpu["file"])
        t = sum(cpu["token"]) / len(cpu["token"])
        out += [f"Mean of the alternated runs: {fmt(t, 3)} ms with the token, {fmt(f, 3)} ms "
                f"with the file: **{fmt(t / f, 2)}×** (token − file: {fmt(t - f, 3)} ms per "
                "enrollment).",
                ""]
