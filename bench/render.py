#!/usr/bin/env python3
# render.py — the results section of docs/benchmarks.md from the TSVs bench/steps/*.sh write:
# every derived figure (per enrollment, per handshake, × floor, shares) is computed here.
#
#   bench/render.py RESULTS_DIR               markdown on stdout
#   bench/render.py RESULTS_DIR --doc FILE    rewrite FILE between the "results" markers
# A section whose TSV is missing is left out, so a run of some steps renders what it measured.
import csv
import os
import sys

from render_store import fmt, model, replicas, store_runs
from render_token import token_runs

BEGIN = "<!-- results:begin (bench/run.sh rewrites this part) -->"
END = "<!-- results:end -->"
FLOOR_P256 = "floor (P-256 ECDH + 2 sign + 4 verify)"
FLOOR_X25519 = "floor (X25519 + 2 sign + 4 verify)"
VERIFY = "ECDSA P-256 verify"


def read_tsv(results, name):
    """Rows of NAME.tsv as dicts keyed by its header row; None if the step did not run."""
    path = os.path.join(results, name + ".tsv")
    if not os.path.exists(path):
        return None
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def x_floor(ms, floor_us):
    """How many floors a figure in ms is: ms × 1000 ÷ floor in µs, 2 decimals."""
    if floor_us is None or floor_us <= 0:
        return "n/a"
    return fmt(float(ms) * 1000 / floor_us, 2)


def short(value):
    """A mean as jq would print it: no trailing zeros."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text or "0"


class Run:
    """What the TSVs say, with the figures derived from them."""

    def __init__(self, results):
        self.meta = {r["key"]: r["value"] for r in read_tsv(results, "meta") or []}
        self.hz = float(self.meta.get("hz", "100"))
        self.crypto = read_tsv(results, "crypto")
        self.enroll = {r["run"]: r for r in read_tsv(results, "enroll") or []}
        self.tables = {n: read_tsv(results, n) for n in
                       ("db", "pg_db", "pg_trips", "replicas", "perf", "handshake", "pinned",
                        "callgrind", "hold", "flood", "chain", "histogram", "token")}
        self.floor_ours = self.floor_issue = None
        if self.crypto:
            us = {r["operation"]: float(r["us_per_op"]) for r in self.crypto}
            if FLOOR_P256 in us and VERIFY in us:
                self.floor_ours = us[FLOOR_P256]
                # The issue's list has no post-sign check: one verification fewer.
                self.floor_issue = float(fmt(us[FLOOR_P256] - us[VERIFY], 1))

    def m(self, key, default="?"):
        return self.meta.get(key, default)

    def cpu_s(self, name):
        return fmt(int(self.enroll[name]["daemon_cpu_ticks"]) / self.hz, 3)

    def cpu_ms(self, name, ticks=None):
        """Daemon CPU ms per successful enrollment of run NAME (0 if none succeeded)."""
        row = self.enroll[name]
        ok = int(row["ok"])
        t = int(row["daemon_cpu_ticks"]) if ticks is None else ticks
        return fmt(t / self.hz * 1000 / ok if ok > 0 else 0, 3)


def machine(run, out):
    out.append(f"Run of {run.m('run_date')} on `{run.m('nproc')}` CPUs ({run.m('cpu_model')}), "
               f"kernel {run.m('kernel')}, {run.m('mem_total')} RAM; mbedTLS {run.m('mbedtls')} "
               f"(Debian), {run.m('openssl')}; load average before the run: "
               f"{run.m('load_start')}.")
    out.append("")


def crypto(run, out):
    out += [f"### 1. Crypto floor (bench/crypto_floor, load {run.m('crypto_load')}; openssl speed "
            f"at load {run.m('openssl_load')})", "",
            f"CPU time of the measuring thread per operation, each run for "
            f"{run.m('crypto_seconds')} s. mbedTLS column: the same library, API and curve the "
            "daemon uses (PSA for TLS 1.3 ECDHE, legacy pk for ECDSA). OpenSSL column: "
            f"`openssl speed -seconds {run.m('openssl_seconds')} ecdsap256 ecdhx25519 ecdhp256` "
            "(its ECDH figure is one derive only; it has no key-generation figure).", "",
            "| operation | mbedTLS µs/op | mbedTLS ops/s/core | OpenSSL ops/s | OpenSSL µs/op "
            "| OpenSSL faster by |", "|---|---:|---:|---:|---:|---:|"]
    speed = {}
    for r in run.crypto:
        name, o = r["operation"], r["openssl_ops_per_s"]
        if name.startswith("floor"):
            continue
        if o:
            speed[name] = float(o)
            out.append(f"| {name} | {r['us_per_op']} | {r['ops_per_s']} | {o} | "
                       f"{fmt(1e6 / float(o), 1)} | {fmt(float(o) / float(r['ops_per_s']), 1)}× |")
        else:
            out.append(f"| {name} | {r['us_per_op']} | {r['ops_per_s']} | | | |")
    ours = fmt(run.floor_ours, 1) if run.floor_ours else "n/a"
    issue = fmt(run.floor_issue, 1) if run.floor_issue else "n/a"
    floor_x = next((r["us_per_op"] for r in run.crypto if r["operation"] == FLOOR_X25519), "?")
    needed = ("ECDSA P-256 sign", VERIFY, "ECDH P-256 shared secret")
    os_floor = "n/a"
    if all(n in speed for n in needed):
        s, v, x = (speed[n] for n in needed)
        os_floor = fmt(1e6 * (2 / x + 2 / s + 4 / v), 1)
    out += ["", "**Crypto floor per enrollment** (server side, TLS 1.3, fresh device sending a "
            "P-256 key share as device-sim does): P-256 ECDH keygen + shared secret + 2 ECDSA "
            "P-256 signatures (CertificateVerify, the certificate) + 4 ECDSA P-256 verifications "
            "(bootstrap chain, the device's CertificateVerify, the CSR self-signature, the "
            f"post-sign check) = **{ours} µs** with mbedTLS (with X25519 "
            f"instead, as OpenSSL and curl clients send: {floor_x} µs); without the post-sign "
            f"check, i.e. the issue's list of operations: **{issue} µs**. The "
            "same operations with OpenSSL (P-256 keygen counted as one more derive): "
            f"{os_floor} µs.", ""]


def group_commit(run, out):
    out += [f"### 2. Group commit (bench/db_bench --seconds {run.m('db_seconds')}, state on the "
            f"same disk as the run; load {run.m('db_load')})", "", "```"]
    out += [r["line"] for r in run.tables["db"]]
    out += ["```", ""]


LOAD_RUNS = [("c1", "1"), ("c64", "64"), ("c1000", "1000"),
             ("base1", "64 (slowloris baseline 1)"), ("slow1", "64 + 1000 slowloris (1)"),
             ("base2", "64 (slowloris baseline 2)"), ("slow2", "64 + 1000 slowloris (2)")]


def under_load(run, out):
    e = run.enroll
    fo = fmt(run.floor_ours, 1) if run.floor_ours else "n/a"
    fi = fmt(run.floor_issue, 1) if run.floor_issue else "n/a"
    out += ["### 3. Enrollment under load (device-sim enroll, one fresh device per enrollment, "
            "TLS 1.3)", "",
            f"provisiond serve --rate-limit-device off, {run.m('workers')} workers (one per CPU); "
            f"device-sim on the same {run.m('nproc')} CPUs (its own crypto competes with the "
            "daemon's, so enrollments/s is a property of the pair; the daemon's CPU per "
            "enrollment is not). Daemon CPU = utime+stime from /proc/<pid>/stat across the run "
            "÷ enrollments that succeeded. Latency = device-sim's, per enrollment: TCP connect + "
            "TLS handshake (device-sim's default P-256 key share) + POST simpleenroll + reply.",
            "",
            "| concurrency | enrollments | ok | failed | enrollments/s | p50 ms | p99 ms | max ms "
            "| daemon CPU s | **daemon CPU ms / enrollment** | "
            f"× our floor ({fo} µs) | × issue's floor ({fi} µs) | load avg (1/5/15) |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for name, label in LOAD_RUNS:
        if name not in e:
            continue
        r, ms = e[name], run.cpu_ms(name)
        out.append(f"| {label} | {r['planned']} | {r['ok']} | {r['failed']} | "
                   f"{r['rate_per_second']} | {r['p50_ms']} | {r['p99_ms']} | {r['max_ms']} | "
                   f"{run.cpu_s(name)} | **{ms}** | {x_floor(ms, run.floor_ours)} | "
                   f"{x_floor(ms, run.floor_issue)} | {r['load']} |")
    out.append("")
    if not all(n in e for n in ("base1", "base2", "slow1", "slow2", "slowonly")):
        return
    base = (float(e["base1"]["p99_ms"]) + float(e["base2"]["p99_ms"])) / 2
    slow = (float(e["slow1"]["p99_ms"]) + float(e["slow2"]["p99_ms"])) / 2
    alone = e["slowonly"]
    cpu, secs = float(run.cpu_s("slowonly")), float(alone["elapsed_s"])
    out += [f"Slowloris ({run.m('NCMP')} fresh devices per run, concurrency 64, device-sim "
            "--slow 1000: half send a ClientHello one byte a second, half complete the mTLS "
            "handshake with a valid device certificate and then send HTTP headers one byte a "
            "second; each reopens 1 s after the daemon closes it; the fleet starts once all 1000 "
            "are open, and the slow connections' thread runs at nice 19, standing for the "
            f"attacker's own machine): mean p99 of the good devices {short(base)} ms without, "
            f"{short(slow)} ms with ({fmt(slow / base, 1)}×; target ≤ 2×). The slow connections "
            f"alone (20 enrollments at 0.5/s alongside, {alone['elapsed_s']} s) cost the daemon "
            f"{run.cpu_s('slowonly')} s of CPU, i.e. {fmt(100 * cpu / secs, 0)}% of one core; "
            "device-sim's slow-connection tally in that run:", "", "```", alone["slow"], "```", ""]


def profile(run, out):
    if run.m("perf") != "ok":
        out += ["### 4. Profile", "",
                "perf is not usable here (`perf stat -e instructions true` failed).", ""]
        return
    lines = run.tables["perf"]
    out += [f"### 4a. Where the daemon's CPU goes (perf record -F 499 -g on the daemon, enroll "
            f"c=64, {run.m('NPERF')} devices; software cpu-clock samples: this VM has no hardware "
            "counters)", "",
            "Daemon CPU per enrollment in this run (perf attached): "
            f"{run.cpu_ms('perf') if 'perf' in run.enroll else '?'} ms.", "",
            "By shared object (self time):", "", "```"]
    out += [r["line"] for r in lines if r["kind"] == "dso"]
    out += ["```", "", "Top symbols (self time):", "", "```"]
    out += [r["line"] for r in lines if r["kind"] == "sym"]
    out += ["```", ""]


def handshakes(run, out):
    out += ["### 5. Full mutual-auth TLS handshakes, one at a time (openssl s_time -new -time 5; "
            f"load {run.m('handshake_load')})", "",
            "Same server certificate and key (the state dir's P-256 server.crt/key), same P-256 "
            "device certificate and key as the client's, the server requires and verifies it. "
            "s_time runs one connection at a time, so this is latency-bound (client + server on "
            "the same CPUs); the server CPU column (from /proc/<pid>/stat) is the comparable "
            "figure. provisiond runs its revocation/denylist lookup per handshake; s_server does "
            "not.", "", "| server | TLS | handshakes/s | server CPU ms / handshake |",
            "|---|---|---:|---:|"]
    for r in run.tables["handshake"]:
        n, wall, ticks = int(r["connections"]), float(r["wall_s"]), int(r["server_cpu_ticks"])
        rate = fmt(n / wall, 0) if wall > 0 else "0"
        cpu = fmt(ticks / run.hz * 1000 / n if n > 0 else 0, 2)
        out.append(f"| {r['server']} | {r['tls']} | {rate} | {cpu} |")
    out.append("")


def pinned(run, out):
    rows = [r for r in run.tables["pinned"] if "pin" + r["run"] in run.enroll]
    if not rows:
        return
    out += [f"### 5b. The daemon alone on a CPU (--workers 1 under taskset -c 0, device-sim under "
            f"taskset -c 1, concurrency 64, {run.m('N64')} devices per run)", "",
            "Each run's floor is the mean of `crypto_floor` on CPU 0 (CPU 1 idle) right before "
            "and right after it (both shown, µs, ours; the issue's is that minus one "
            "verification).", "",
            "| run | enrollments ok | enrollments/s | p99 ms | **daemon CPU ms / enrollment** | "
            "of which the worker | of which the database writer | floor before → after (µs) | "
            "**× our floor** | × issue's floor | load avg (1/5/15) |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        name = "pin" + r["run"]
        e, ms = run.enroll[name], run.cpu_ms(name)
        f0, f1 = float(r["floor_before_us"]), float(r["floor_after_us"])
        ours = (f0 + f1) / 2
        issue = (f0 - float(r["verify_before_us"]) + f1 - float(r["verify_after_us"])) / 2
        out.append(f"| {r['run']} | {e['ok']} | {e['rate_per_second']} | {e['p99_ms']} | "
                   f"**{ms}** | {run.cpu_ms(name, int(r['worker_ticks']))} | "
                   f"{run.cpu_ms(name, int(r['writer_ticks']))} | {fmt(f0, 1)} → {fmt(f1, 1)} | "
                   f"**{x_floor(ms, ours)}** | {x_floor(ms, issue)} | {e['load']} |")
    out.append("")


def instructions(run, out):
    n = int(run.m("cg_ok", "0"))
    rows = run.tables["callgrind"]
    total = next((int(r["instructions"]) for r in rows if r["kind"] == "total"), 0)
    crypto_sum = sum(int(r["instructions"]) for r in rows if r["kind"] == "crypto")

    def per(v):
        return fmt(v / n / 1e6, 2) if n > 0 else "n/a"

    def share(v):
        return fmt(100 * v / total, 1) + "%" if total > 0 else "n/a"

    out += [f"### 4b. Instructions per enrollment (valgrind --tool=callgrind on the daemon, {n} "
            "enrollments at concurrency 1, counters zeroed after start-up)", "",
            "User-space instructions only (callgrind does not see the kernel); unlike CPU time "
            "they do not depend on other load. Inclusive counts of the functions the crypto "
            "floor's operations enter:", "",
            "| where | M instructions / enrollment | share of the daemon's |", "|---|---:|---:|"]
    for r in rows:
        v = int(r["instructions"])
        if r["kind"] == "crypto":
            out.append(f"| {r['label']} (`{r['symbol']}`) | {per(v)} | {share(v)} |")
    out.append(f"| **crypto floor operations, sum** | **{per(crypto_sum)}** | "
               f"**{share(crypto_sum)}** |")
    for r in rows:
        if r["kind"] == "other":
            v = int(r["instructions"])
            out.append(f"| {r['label']} | {per(v)} | {share(v)} |")
    out += [f"| **the daemon, all threads** | **{per(total)}** | 100% |", ""]
    ratio = fmt(total / crypto_sum, 3) if crypto_sum > 0 else "n/a"
    out += [f"In instructions the daemon spends {ratio}× its crypto floor operations (user "
            "space).", ""]


def held(run, out):
    out += ["### 6. Held connections (bench/hold_connections.py hold --count 10000, fresh daemon "
            "each, default --max-connections 10000)", "",
            "RSS per connection = (VmRSS with all open − VmRSS before) ÷ connections still open "
            "at the measure (1 s after the last connect); then held 14 s more to see the "
            "daemon's handshake timeout (10 s plus up to 25 % at random) close them.", "",
            "| held as | connected | alive at measure | s from first connect to measure | RSS "
            "before KiB | RSS all open KiB | **KiB / connection** | closed by server during "
            "hold | closed after (p50 s) | RSS after close KiB |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    held_as = {"hello": "partial ClientHello (43 bytes)", "idle": "nothing sent"}
    for r in run.tables["hold"]:
        out.append(f"| {held_as.get(r['held_as'], r['held_as'])} | {r['connected']} | "
                   f"{r['alive_at_measure']} | {r['seconds_from_first_connect_to_measure']} | "
                   f"{r['rss_before_kib']} | {r['rss_all_open_kib']} | "
                   f"**{r['rss_per_connection_kib']}** | {r['closed_by_server_during_hold']} | "
                   f"{r['closed_after_seconds_p50']} | {r['rss_after_close_kib']} |")
    out.append("")


def flood(run, out):
    out += ["### 7. Connection flood (bench/hold_connections.py flood --count 10000 against "
            "--max-connections 1000)", "",
            "| connections | refused by server | held (under the limit) | connect errors | refusal "
            "p50 s | refusal p99 s | flood s | RSS before KiB | RSS peak KiB | RSS after KiB | "
            "connection_refused log lines |", "|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in run.tables["flood"]:
        out.append("| " + " | ".join(r[c] for c in (
            "requested", "refused_by_server", "held_open", "connect_errors",
            "refusal_seconds_p50", "refusal_seconds_p99", "seconds", "rss_before_kib",
            "rss_peak_kib", "rss_after_kib", "connection_refused_log_lines")) + " |")
    out.append("")
    if "rec" in run.enroll:
        r = run.enroll["rec"]
        out += [f"Recovery right after the flood (same daemon, {run.m('NREC')} fresh devices, "
                f"concurrency 64): {r['ok']} ok, {r['failed']} failed, {r['rate_per_second']}/s, "
                f"p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms; daemon CPU {run.cpu_ms('rec')} ms "
                "per enrollment.", ""]


def chain(run, out):
    rows = run.tables["chain"]
    quiet = [r for r in rows if r["kind"] == "quiet"]
    q_p50 = sum(float(r["p50_ms"]) for r in quiet) / len(quiet) if quiet else 0
    q_cpu = sum(int(r["daemon_cpu_ticks"]) for r in quiet) / len(quiet) if quiet else 0
    out += [f"### 8. Client-chain attack (bench/chain_attack.sh: {run.m('chain_devices')} good "
            f"devices per run at concurrency 1, {run.m('chain_threads')} attacker threads at nice "
            f"{run.m('chain_nice')})", "",
            "Ratio = the run's good-device p50 ÷ the mean p50 of the quiet runs; attacker cost = "
            "(the run's daemon CPU − the quiet runs' mean) ÷ its attacker handshakes.", "",
            "| run | attackers | good ok | good p50 ms | good p99 ms | attacker handshakes "
            "(refused) | attacker handshakes/s | daemon CPU s | **p50 ÷ quiet p50** | daemon CPU "
            "ms / attacker handshake | load (1 min) |",
            "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        ticks = int(r["daemon_cpu_ticks"])
        ratio = per_hs = ""
        if r["kind"] == "attack":
            ratio = f"**{fmt(float(r['p50_ms']) / q_p50, 2)}×**" if q_p50 > 0 else "n/a"
            hs = int(r["attacker_handshakes"] or 0)
            per_hs = fmt((ticks - q_cpu) / run.hz * 1000 / hs, 2) if hs > 0 and quiet else "n/a"
        att = (f"{r['attacker_handshakes']} ({r['refused']})" if r["kind"] == "attack" else "–")
        out.append(f"| {r['run']} | {r['kind']} | {r['ok']} | {r['p50_ms']} | {r['p99_ms']} | "
                   f"{att} | {r['attacker_per_second']} | {fmt(ticks / run.hz, 2)} | {ratio} | "
                   f"{per_hs} | {r['load1']} |")
    out.append("")


def render(results):
    run = Run(results)
    out = []
    if "run_date" in run.meta:  # the setup step ran
        machine(run, out)
    if run.crypto:
        crypto(run, out)
    steps = [("db", group_commit), ("pg_db", store_runs), ("enroll", under_load),
             ("replicas", lambda r, o: (replicas(r, o), model(r, o))), ("token", token_runs),
             ("perf", profile), ("handshake", handshakes), ("pinned", pinned), ("callgrind", instructions),
             ("hold", held), ("flood", flood), ("chain", chain)]
    for table, section in steps:
        present = run.enroll if table == "enroll" else run.tables[table]
        if present is not None and (table != "enroll" or any(n in present for n, _ in LOAD_RUNS)):
            section(run, out)
    if run.tables["histogram"] is not None:
        out.append("Latency histogram of section 3's runs: "
                   "[latency-histogram.png](latency-histogram.png).")
    if "load_end" in run.meta:
        out.append(f"Load average at the end: {run.m('load_end')}.")
    return "\n".join(out) + "\n"


def splice(doc, res):
    """DOC with the part between the results markers replaced by RES."""
    try:
        with open(doc, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        text = "# Benchmarks\n\n" + BEGIN + "\n" + END + "\n"
    if BEGIN not in text or END not in text:
        text += "\n" + BEGIN + "\n" + END + "\n"
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    return head + BEGIN + "\n" + res + "\n" + END + tail


def main(argv):
    if len(argv) not in (2, 4) or (len(argv) == 4 and argv[2] != "--doc"):
        print("usage: render.py RESULTS_DIR [--doc FILE]", file=sys.stderr)
        return 2
    if not os.path.isdir(argv[1]):
        print(f"render.py: {argv[1]}: not a directory", file=sys.stderr)
        return 1
    res = render(argv[1])
    if len(argv) == 2:
        sys.stdout.write(res)
    else:
        text = splice(argv[3], res)
        with open(argv[3], "w", encoding="utf-8") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
