#!/usr/bin/env python3
"""chain_attacker.py HOST PORT LEAF KEY CHAIN STOP_FILE [THREADS] — issue #12's attacker: THREADS
threads (default 4) each present the hostile client chain (tests/e2e/hostile_chain.py) in back-to-
back handshakes, alternating TLS 1.3 and 1.2, until STOP_FILE exists. Prints one line:
`handshakes=N refused=N other=N per_second=X` (refused: the server sent a fatal alert)."""
import os
import socket
import ssl
import sys
import tempfile
import threading
import time


def one(ctx, host, port):
    with socket.create_connection((host, port), timeout=30) as raw:
        with ctx.wrap_socket(raw) as s:  # TLS 1.2 refusals raise here, in the handshake
            s.recv(1)  # TLS 1.3: the alert comes after the handshake
    return False


def main():
    host, port, leaf, key, chain, stop_file = sys.argv[1:7]
    threads = int(sys.argv[7]) if len(sys.argv) > 7 else 4
    bundle = tempfile.NamedTemporaryFile(suffix=".pem", delete=False)
    bundle.write(open(leaf, "rb").read() + open(chain, "rb").read())
    bundle.close()
    ctxs = []
    for version in (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.minimum_version = ctx.maximum_version = version
        ctx.load_cert_chain(bundle.name, key)
        ctxs.append(ctx)
    os.unlink(bundle.name)
    counts = {"handshakes": 0, "refused": 0, "other": 0}
    lock = threading.Lock()
    start = time.monotonic()

    def run(i):
        n = i
        while not os.path.exists(stop_file):
            outcome = "other"
            try:
                one(ctxs[n % 2], host, int(port))
            except ssl.SSLError as e:
                outcome = "refused" if "ALERT" in str(e).upper() else "other"
            except OSError:
                pass
            n += 1
            with lock:
                counts["handshakes"] += 1
                counts[outcome] += 1

    ts = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    seconds = time.monotonic() - start
    print(f"handshakes={counts['handshakes']} refused={counts['refused']} "
          f"other={counts['other']} per_second={counts['handshakes'] / seconds:.1f}")


if __name__ == "__main__":
    main()
