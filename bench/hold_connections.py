#!/usr/bin/env python3
"""hold_connections.py — holds many TCP connections open against provisiond, or floods it.

  hold:  opens --count connections (each sends nothing, or the first bytes of a TLS ClientHello
         with --hello), holds them for --hold seconds and reports the daemon's VmRSS before and
         once all are open (--pid), so RSS per held connection = delta / open.
  flood: opens --count connections as fast as it can and reports how many the server closed
         (refused at accept: EOF or RST without a byte), how fast, and the daemon's peak RSS.

Prints one JSON object on stdout. Not a test; bench/run.sh uses it (docs/benchmarks.md).
"""
import argparse
import asyncio
import json
import os
import resource
import statistics
import sys
import time

# A TLS record header announcing a 512-byte handshake message, the ClientHello header and the
# start of its body: the server parses the record header and waits for the rest.
PARTIAL_HELLO = bytes([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03]) + os.urandom(32)


def vm_rss_kib(pid):
    if not pid:
        return None
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def percentile(values, p):
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100.0 * len(values)))]


async def open_one(host, port, payload, sem, timeout):
    async with sem:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        except (OSError, asyncio.TimeoutError) as e:
            return None, type(e).__name__
    if payload:
        try:
            writer.write(payload)
            await writer.drain()
        except OSError as e:
            writer.close()
            return None, type(e).__name__
    return (reader, writer), None


async def watch_close(reader, deadline):
    """Seconds until the server closed the connection, or None if it stayed open."""
    start = time.monotonic()
    try:
        data = await asyncio.wait_for(reader.read(4096), max(0.0, deadline - time.monotonic()))
        while data:  # the server may answer (a TLS alert) before closing
            data = await asyncio.wait_for(reader.read(4096), max(0.0, deadline - time.monotonic()))
        return time.monotonic() - start
    except asyncio.TimeoutError:
        return None
    except OSError:  # RST
        return time.monotonic() - start


async def hold(args):
    payload = PARTIAL_HELLO if args.hello else b""
    rss_before = vm_rss_kib(args.pid)
    sem = asyncio.Semaphore(args.parallel)
    t0 = time.monotonic()
    results = await asyncio.gather(
        *(open_one(args.host, args.port, payload, sem, 10.0) for _ in range(args.count)))
    open_seconds = time.monotonic() - t0
    conns = [c for c, _ in results if c]
    errors = {}
    for _, e in results:
        if e:
            errors[e] = errors.get(e, 0) + 1
    await asyncio.sleep(args.settle)
    # Count those the server has already dropped (a refusal at accept, or an early error).
    deadline = time.monotonic() + 0.2
    early = await asyncio.gather(*(watch_close(r, deadline) for r, _ in conns))
    rss_all_open = vm_rss_kib(args.pid)
    alive = sum(1 for e in early if e is None)
    elapsed_at_measure = time.monotonic() - t0
    out = {
        "mode": "hold", "hello": bool(args.hello), "requested": args.count,
        "connected": len(conns), "connect_errors": errors, "open_seconds": round(open_seconds, 2),
        "alive_at_measure": alive, "seconds_from_first_connect_to_measure": round(elapsed_at_measure, 2),
        "rss_before_kib": rss_before, "rss_all_open_kib": rss_all_open,
    }
    if rss_before is not None and rss_all_open is not None and alive:
        out["rss_per_connection_kib"] = round((rss_all_open - rss_before) / alive, 2)
    if args.hold > 0:
        # How long the daemon lets them stay (its handshake timeout), and RSS once they are gone.
        deadline = time.monotonic() + args.hold
        closed = await asyncio.gather(*(watch_close(r, deadline) for r, _ in conns))
        lifetimes = [c + elapsed_at_measure for c in closed if c is not None]
        out["closed_by_server_during_hold"] = len(lifetimes)
        out["held_seconds"] = args.hold
        if lifetimes:
            out["closed_after_seconds_p50"] = round(percentile(lifetimes, 50), 2)
        await asyncio.sleep(0.5)
        out["rss_after_close_kib"] = vm_rss_kib(args.pid)
    for _, w in conns:
        w.close()
    return out


async def flood(args):
    sem = asyncio.Semaphore(args.parallel)
    rss_before = vm_rss_kib(args.pid)
    peak = [rss_before or 0]
    done = asyncio.Event()

    async def sample():
        while not done.is_set():
            r = vm_rss_kib(args.pid)
            if r:
                peak[0] = max(peak[0], r)
            await asyncio.sleep(0.05)

    sampler = asyncio.create_task(sample())

    async def one():
        t = time.monotonic()
        conn, err = await open_one(args.host, args.port, b"", sem, 10.0)
        if err:
            return ("connect_error", err, time.monotonic() - t)
        reader, writer = conn
        closed = await watch_close(reader, time.monotonic() + args.hold)
        return ("closed" if closed is not None else "open", (reader, writer), closed)

    t0 = time.monotonic()
    results = await asyncio.gather(*(one() for _ in range(args.count)))
    seconds = time.monotonic() - t0
    done.set()
    await sampler
    refused = [r[2] for r in results if r[0] == "closed"]
    still_open = [r for r in results if r[0] == "open"]
    errors = {}
    for r in results:
        if r[0] == "connect_error":
            errors[r[1]] = errors.get(r[1], 0) + 1
    out = {
        "mode": "flood", "requested": args.count, "seconds": round(seconds, 2),
        "refused_by_server": len(refused), "held_open": len(still_open), "connect_errors": errors,
        "refusal_seconds_p50": round(percentile(refused, 50), 4) if refused else None,
        "refusal_seconds_p99": round(percentile(refused, 99), 4) if refused else None,
        "rss_before_kib": rss_before, "rss_peak_kib": peak[0],
    }
    for _, (r, w), _ in still_open:
        w.close()
    await asyncio.sleep(0.5)
    out["rss_after_kib"] = vm_rss_kib(args.pid)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("mode", choices=["hold", "flood"])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--count", type=int, default=10000)
    p.add_argument("--hello", action="store_true", help="hold: send a partial ClientHello")
    p.add_argument("--pid", type=int, help="the daemon's pid, for VmRSS")
    p.add_argument("--settle", type=float, default=1.0, help="hold: seconds before measuring RSS")
    p.add_argument("--hold", type=float, default=0.0,
                   help="hold: seconds to keep holding after the measure; flood: seconds to wait "
                        "for the server to close each connection")
    p.add_argument("--parallel", type=int, default=512, help="connects in flight")
    args = p.parse_args()
    limit = raise_nofile()
    if limit < args.count + 100:
        print(f"hold_connections: RLIMIT_NOFILE hard limit {limit} < {args.count + 100}",
              file=sys.stderr)
        return 2
    out = asyncio.run(hold(args) if args.mode == "hold" else flood(args))
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
