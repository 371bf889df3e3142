# render_store.py — the store sections of docs/benchmarks.md's results, imported by render.py:
# 2b (bench/store_bench on PostgreSQL and SQLite), 3b (1 and 2 replicas) and 3c (the model).
# Every derived figure is computed here from pg_db.tsv, pg_trips.tsv and replicas.tsv.


def fmt(value, digits):  # value with DIGITS decimals
    return f"{value:.{digits}f}"


def per(numerator, denominator, scale, digits):
    """numerator × scale ÷ denominator, or n/a when there is nothing to divide by."""
    return fmt(numerator * scale / denominator, digits) if denominator > 0 else "n/a"


def store_runs(run, out):
    rows = run.tables["pg_db"]
    hz = run.hz
    out += [f"### 2b. The store under the issuance workload, PostgreSQL and SQLite "
            f"(bench/store_bench --seconds {run.m('pg_db_seconds')}; load {run.m('pg_db_load')})",
            "",
            "Each issuance is db_bench's: Reserve, then Complete from its callback, through "
            "db::Writer (group commit), durable (PostgreSQL: initdb's defaults, fsync and "
            "synchronous_commit on, a throwaway cluster over its Unix socket; SQLite: "
            "synchronous=FULL, WAL). Writers = replicas: each has its own store object and "
            "connection, all take the store's one write lock in turn (PostgreSQL: the audit_head "
            "row). Lock wait = BEGIN and taking the lock (includes another writer's batch); lock "
            "held = from holding it to COMMIT returned, per batch (Writer::Stats). Server CPU = "
            "the PostgreSQL processes' utime+stime from /proc across the load ÷ issuances (SQLite "
            f"runs inside the writer thread). {run.m('pg_version')}.", "",
            "| run | engine | writers | submitters × in flight | **issuances/s** | transactions "
            "/ issuance | issuances / batch | lock wait ms / batch | **lock held ms / batch** | "
            "held max ms | COMMIT ms | writer thread CPU µs / issuance | **server CPU µs / "
            "issuance** | p50 ms | p99 ms |",
            "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        issued = int(r["issued"])
        server = (per(int(r["server_cpu_ticks"]) / hz, issued, 1e6, 0)
                  if r["engine"] == "postgresql" else "–")
        out.append(f"| {r['run']} | {r['engine']} | {r['writers']} | {r['threads']} × "
                   f"{r['inflight']} | **{r['issuances_per_s']}** | "
                   f"{per(int(r['transactions']), issued, 1, 2)} | "
                   f"{fmt(float(r['ops_per_txn']) / 2, 2)} | {r['begin_ms']} | "
                   f"**{r['locked_ms']}** | {r['locked_max_ms']} | {r['commit_ms']} | "
                   f"{r['writer_cpu_us_per_issuance']} | **{server}** | {r['p50_ms']} | "
                   f"{r['p99_ms']} |")
    out.append("")
    trips = run.tables["pg_trips"]
    if trips:
        out += ["Round trips on PostgreSQL: every statement the writer sends is one (no "
                "pipelining), counted in the server log (log_statement=all, a separate 1 s run "
                "per load, not timed):", "",
                "| submitters × in flight | issuances | statements | **round trips / issuance** "
                "| COMMITs / issuance |", "|---|---:|---:|---:|---:|"]
        shape = {"t1": "1 × 1", "tN": "8 × 32"}
        for r in trips:
            n = int(r["issued"])
            out.append(f"| {shape.get(r['run'], r['run'])} | {n} | {r['statements']} | "
                       f"**{per(int(r['statements']), n, 1, 1)}** | "
                       f"{per(int(r['commits']), n, 1, 2)} |")
        out.append("")


def replica_rows(run):
    """(row, figures) per replicas.tsv row: rate, CPU ms per enrollment, core use."""
    result = []
    for r in run.tables["replicas"]:
        ok, secs, n = int(r["ok"]), float(r["elapsed_s"]), int(r["replicas"])
        rep_s, pg_s = int(r["replica_cpu_ticks"]) / run.hz, int(r["pg_cpu_ticks"]) / run.hz
        result.append((r, {
            "rate": ok / secs if secs > 0 else 0.0,
            "replica_ms": rep_s * 1000 / ok if ok > 0 else 0.0,
            "pg_ms": pg_s * 1000 / ok if ok > 0 else 0.0,
            "busy": 100 * rep_s / (secs * n) if secs > 0 else 0.0}))
    return result


def replicas(run, out):
    out += [f"### 3b. Replicas on one store (provisiond serve --workers 1 per replica, "
            f"device-sim enroll --concurrency 64 per replica, {run.m('replicas_devices')} fresh "
            "devices each)", "",
            "2 CPUs. 1 replica: it has CPU 0 (taskset), device-sim and PostgreSQL share CPU 1. 2 "
            "replicas: CPU 0 and CPU 1, one each; the two device-sims (no balancer: each targets "
            "one replica) and PostgreSQL run unpinned beside them, so the 2-replica rate is that "
            "of the whole machine, clients included; the CPU per enrollment is the comparable "
            "figure. SQLite: both replicas open the state dir's one file. Replica core busy = "
            "the replicas' CPU ÷ (elapsed × replicas).", "",
            "| store | replicas | ok | failed | **enrollments/s** | p50 ms (mean) | p99 ms "
            "(worst) | **replica CPU ms / enrollment** | **PostgreSQL CPU ms / enrollment** | "
            "server CPU ms / enrollment (replicas + database) | replica core busy | load avg "
            "(1/5/15) |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r, f in replica_rows(run):
        pg = fmt(f["pg_ms"], 3) if r["engine"] == "postgresql" else "–"
        out.append(f"| {r['engine']} | {r['replicas']} | {r['ok']} | {r['failed']} | "
                   f"**{fmt(f['rate'], 1)}** | {fmt(float(r['p50_ms']), 1)} | "
                   f"{fmt(float(r['p99_ms']), 1)} | **{fmt(f['replica_ms'], 3)}** | **{pg}** | "
                   f"{fmt(f['replica_ms'] + f['pg_ms'], 3)} | {fmt(f['busy'], 0)}% | "
                   f"{r['load']} |")
    out.append("")


def model(run, out):
    """Section 3c: the replica count at which one PostgreSQL primary is the bottleneck."""
    pg = {r["run"]: r for r in run.tables["pg_db"] or []}
    reps = {r["run"]: f for r, f in replica_rows(run)} if run.tables["replicas"] else {}
    lock_run = pg.get("p2") or pg.get("pN")
    db_run = reps.get("rp2") or reps.get("rp1")
    one = reps.get("rp1")
    if not (lock_run and db_run and one) or one["replica_ms"] <= 0 or db_run["pg_ms"] <= 0:
        return
    held = float(lock_run["locked_ms"])
    k = float(lock_run["ops_per_txn"]) / 2
    cores = int(run.m("nproc", "1"))
    x_lock = 1000 * k / held if held > 0 else float("inf")
    x_cpu = cores * 1000 / db_run["pg_ms"]
    rate = 1000 / one["replica_ms"]
    primary = min(x_lock, x_cpu)
    bound = "the audit_head lock" if x_lock <= x_cpu else "the primary's CPU"
    out += ["### 3c. Model: replicas one PostgreSQL primary can serve", "",
            "Inputs (named as in the method above): "
            f"H = lock held per batch = {fmt(held, 3)} ms and k = issuances per batch = "
            f"{fmt(k, 2)} (section 2b, run {lock_run['run']}); "
            f"c_db = PostgreSQL CPU per enrollment = {fmt(db_run['pg_ms'], 3)} ms (section 3b, "
            f"{'2 replicas' if reps.get('rp2') else '1 replica'}); P = the primary's CPUs = "
            f"{cores} (this machine); c_rep = one replica's CPU per enrollment = "
            f"{fmt(one['replica_ms'], 3)} ms (section 3b, 1 replica).", "",
            f"* serialized time per enrollment under the lock: H ÷ k = {fmt(held / k, 3)} ms",
            f"* lock bound: X_lock = 1000 × k ÷ H = **{fmt(x_lock, 0)} issuances/s**",
            f"* CPU bound: X_cpu = 1000 × P ÷ c_db = **{fmt(x_cpu, 0)} issuances/s**",
            f"* one replica (one CPU): R = 1000 ÷ c_rep = **{fmt(rate, 0)} enrollments/s** "
            f"(measured with device-sim beside it: {fmt(one['rate'], 1)}/s, its core "
            f"{fmt(one['busy'], 0)}% busy)",
            f"* **N\\* = min(X_lock, X_cpu) ÷ R = {fmt(primary / rate, 1)} one-CPU replicas** "
            f"(bound by {bound})", ""]
