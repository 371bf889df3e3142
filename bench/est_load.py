#!/usr/bin/env python3
# est_load.py — the EST load driver of the side-by-side benchmark (bench/steps/45_reference.sh):
# asyncio on OpenSSL (ssl module), TLS 1.2, a never-used P-256 bootstrap identity and a fresh CSR
# per enrollment, POST simpleenroll with Connection: close at a fixed concurrency.
"""Two commands.

prepare: a factory CA (kept if DIR already has one) and COUNT bootstrap identities (P-256 key,
  certificate CN=<id> with digitalSignature and clientAuth, signed by the factory CA) plus one
  CSR per identity (a new P-256 key, CN=<id>), so that the run itself does no key generation.
run: enrolls identities [--first, --first + --count) against --server at --concurrency; every
  SSL context (one per identity) is built before the clock starts, so the client's own crypto
  while timed is the TLS handshake. Prints one JSON object: ok, failed, rate, p50/p99/max in ms,
  elapsed, the same percentiles in steady state (without the first and the last --concurrency
  enrollments to start), and the server's CPU ticks (utime + stime of /proc/<--pid>/stat) across the run.
"""
import argparse
import asyncio
import base64
import datetime
import json
import os
import ssl
import sys
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

MAX_RESPONSE = 64 * 1024


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _pem_key(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _factory(d):
    crt, key = os.path.join(d, "factory-ca.crt"), os.path.join(d, "factory-ca.key")
    if os.path.exists(crt):
        with open(crt, "rb") as c, open(key, "rb") as k:
            return (x509.load_pem_x509_certificate(c.read()),
                    serialization.load_pem_private_key(k.read(), None))
    k = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    name = _name("est_load Factory CA " + os.urandom(4).hex())
    c = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
         .public_key(k.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(days=1))
         .not_valid_after(now + datetime.timedelta(days=3650))
         .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
         .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                        critical=True)
         .sign(k, hashes.SHA256()))
    with open(crt, "wb") as f:
        f.write(c.public_bytes(serialization.Encoding.PEM))
    with open(key, "wb") as f:
        f.write(_pem_key(k))
    return c, k


def prepare(args):
    os.makedirs(os.path.join(args.dir, "ids"), exist_ok=True)
    ca_cert, ca_key = _factory(args.dir)
    now = datetime.datetime.now(datetime.timezone.utc)
    tag = os.urandom(3).hex()  # ids never collide with an earlier prepare into another dir
    with open(os.path.join(args.dir, "csrs.txt"), "w") as csrs:
        for i in range(args.count):
            dev = f"{args.prefix}{tag}-{i:06d}"
            k = ec.generate_private_key(ec.SECP256R1())
            c = (x509.CertificateBuilder().subject_name(_name(dev)).issuer_name(ca_cert.subject)
                 .public_key(k.public_key()).serial_number(x509.random_serial_number())
                 .not_valid_before(now - datetime.timedelta(days=1))
                 .not_valid_after(now + datetime.timedelta(days=3650))
                 .add_extension(x509.KeyUsage(True, False, False, False, False, False, False,
                                              False, False), critical=True)
                 .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]),
                                critical=False)
                 .sign(ca_key, hashes.SHA256()))
            with open(os.path.join(args.dir, "ids", f"{i}.pem"), "wb") as f:
                f.write(c.public_bytes(serialization.Encoding.PEM) + _pem_key(k))
            nk = ec.generate_private_key(ec.SECP256R1())
            csr = (x509.CertificateSigningRequestBuilder().subject_name(_name(dev))
                   .sign(nk, hashes.SHA256()))
            csrs.write(base64.b64encode(csr.public_bytes(serialization.Encoding.DER)).decode()
                       + "\n")


def _context(identity, ca_bundle):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ecdh_curve("prime256v1")  # the client offers P-256 only, as device-sim does
    ctx.load_verify_locations(ca_bundle)
    ctx.load_cert_chain(identity)
    return ctx


async def _enroll(host, port, ctx, body, timeout):
    t0 = time.perf_counter()
    req = (f"POST /.well-known/est/simpleenroll HTTP/1.1\r\nHost: {host}:{port}\r\n"
           "Content-Type: application/pkcs10\r\nContent-Transfer-Encoding: base64\r\n"
           f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, port, ssl=ctx,
                                                           server_hostname=host)
            writer.write(req)
            resp = b""
            while len(resp) <= MAX_RESPONSE:
                chunk = await reader.read(16384)
                if not chunk:
                    break
                resp += chunk
            writer.close()
    except (OSError, ssl.SSLError, TimeoutError, asyncio.IncompleteReadError) as e:
        return None, type(e).__name__
    status = resp.split(b"\r\n", 1)[0].split(b" ")
    code = status[1].decode() if len(status) > 1 else "none"
    return (time.perf_counter() - t0) if code == "200" else None, code


def _ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)


def _pct(sorted_ms, p):
    if not sorted_ms:
        return None
    return sorted_ms[min(len(sorted_ms) - 1, int(p / 100 * len(sorted_ms)))]


def local_ratio(by_start, c):
    """p99 / p50 of each latency divided by the median latency of the 2c + 1 enrollments that
    started around it (the ones it ran alongside): unequal treatment of concurrent enrollments,
    without the drift a shared machine's load adds over seconds."""
    ratios = []
    for i, v in enumerate(by_start):
        near = sorted(x for x in by_start[max(0, i - c):i + c + 1] if x is not None)
        if v is not None and near:
            ratios.append(v / near[len(near) // 2])
    ratios.sort()
    return _pct(ratios, 99) / _pct(ratios, 50) if ratios else None


async def _run(args, contexts, bodies):
    host, port = args.server.rsplit(":", 1)
    latencies, failures = [None] * len(contexts), {}
    start_order = iter(range(len(contexts)))

    async def lane():
        for i in start_order:  # i: the order in which enrollments start
            lat, code = await _enroll(host, int(port), contexts[i], bodies[i], args.timeout)
            if lat is None:
                failures[code] = failures.get(code, 0) + 1
            else:
                latencies[i] = lat * 1000

    t0 = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(args.concurrency)))
    return latencies, failures, time.perf_counter() - t0


def run(args):
    with open(os.path.join(args.dir, "csrs.txt")) as f:
        lines = [line.strip() for line in f][args.first:args.first + args.count]
    # Wrapped at 64 with CRLF, as device-sim sends it (libest's base64 reader wants lines).
    bodies = ["".join(s[i:i + 64] + "\r\n" for i in range(0, len(s), 64)).encode() for s in lines]
    if len(bodies) < args.count:
        sys.exit(f"est_load: {args.dir} has fewer than {args.first + args.count} identities")
    contexts = [_context(os.path.join(args.dir, "ids", f"{args.first + i}.pem"), args.ca_bundle)
                for i in range(args.count)]
    load = open("/proc/loadavg").read().split()[:3]
    t0 = _ticks(args.pid) if args.pid else 0
    by_start, failures, elapsed = asyncio.run(_run(args, contexts, bodies))
    ticks = (_ticks(args.pid) - t0) if args.pid else None
    if args.raw:
        with open(args.raw, "w") as f:
            f.writelines(f"{i}\t{'' if v is None else round(v, 2)}\n" for i, v in enumerate(by_start))
    latencies = sorted(v for v in by_start if v is not None)
    # Steady state: without the first wave (all C connections open at once, then finish one by
    # one, each with fewer ahead of it than later ones have) and the last (fewer and fewer
    # competitors as the run drains).
    c = args.concurrency
    steady = sorted(v for v in by_start[c:len(by_start) - c] if v is not None)
    ok = len(latencies)
    hz = os.sysconf("SC_CLK_TCK")
    print(json.dumps({
        "concurrency": args.concurrency, "planned": args.count, "ok": ok,
        "failed": sum(failures.values()), "failures": failures,
        "rate_per_second": ok / elapsed, "elapsed_seconds": elapsed,
        "p50_ms": _pct(latencies, 50), "p99_ms": _pct(latencies, 99),
        "max_ms": latencies[-1] if latencies else None,
        "steady_n": len(steady), "steady_p50_ms": _pct(steady, 50),
        "steady_p99_ms": _pct(steady, 99), "local_p99_over_p50": local_ratio(by_start, c),
        "server_cpu_ticks": ticks, "hz": hz,
        "server_cpu_ms_per_enrollment": (ticks * 1000 / hz / ok) if ticks is not None and ok
        else None,
        "load_before": " ".join(load)}))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    pp = sub.add_parser("prepare")
    pp.add_argument("--dir", required=True)
    pp.add_argument("--count", type=int, required=True)
    pp.add_argument("--prefix", default="load-")
    pr = sub.add_parser("run")
    pr.add_argument("--dir", required=True)
    pr.add_argument("--server", required=True, help="HOST:PORT")
    pr.add_argument("--ca-bundle", required=True, help="the server certificate's CA")
    pr.add_argument("--concurrency", type=int, required=True)
    pr.add_argument("--first", type=int, default=0)
    pr.add_argument("--count", type=int, required=True)
    pr.add_argument("--pid", type=int, help="the server process, for its CPU ticks")
    pr.add_argument("--timeout", type=float, default=60)
    pr.add_argument("--raw", help="write each enrollment's latency in ms, in start order")
    args = p.parse_args()
    prepare(args) if args.cmd == "prepare" else run(args)


if __name__ == "__main__":
    main()
