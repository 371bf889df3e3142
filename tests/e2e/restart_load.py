#!/usr/bin/env python3
"""restart_load.py — restarts under load on a socket that never closes, as under systemd's socket
activation: this process binds and holds the listening socket, runs provisiond on it (LISTEN_FDS,
as fd 3), and while THREADS threads make one mTLS GET cacerts per connection it stops the daemon
(SIGTERM, waits for its exit) and starts the next one, RESTARTS times. Prints
"ok=N failed=M restarts=R" (a failure: anything but a 200) and, on stderr, each failure.

  restart_load.py PROVISIOND STATE_DIR TRUST CA DEVICE_DIR RESTARTS WORKERS THREADS GAP_S LOG
"""
import ctypes
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time

(prov, state, trust, ca, dev, restarts, workers, threads, gap, log_path) = sys.argv[1:11]
# Killed by the test's cleanup: the daemon goes with us (prctl PR_SET_PDEATHSIG, SIGKILL).
signal.signal(signal.SIGTERM, lambda *_: sys.exit(2))
libc = ctypes.CDLL(None, use_errno=True)

listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(512)
port = listener.getsockname()[1]
log = open(log_path, "ab")


def start():
    # The socket becomes fd 3 in the shell (Popen closes every other descriptor after
    # preexec_fn, so a dup2 there would not survive).
    move = 'if [ "$1" != 3 ]; then exec 3<&"$1"; eval "exec $1<&-"; fi; shift; '
    return subprocess.Popen(
        ["bash", "-c", move + 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$@"', "_", str(listener.fileno()),
         prov, "serve", "--state-dir", state, "--trust", trust, "--workers", workers],
        preexec_fn=lambda: libc.prctl(1, signal.SIGKILL), pass_fds=(listener.fileno(),),
        stdout=log, stderr=log)


counts = {"ok": 0, "failed": 0}
lock = threading.Lock()
done = threading.Event()


def client():
    ctx = ssl.create_default_context(cafile=ca)
    ctx.load_cert_chain(os.path.join(dev, "bootstrap.crt"), os.path.join(dev, "bootstrap.key"))
    while not done.is_set():
        try:
            with ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=20),
                                 server_hostname="localhost") as s:
                s.sendall(b"GET /.well-known/est/cacerts HTTP/1.1\r\nHost: localhost\r\n"
                          b"Connection: close\r\n\r\n")
                line = s.makefile("rb").readline()
                good = line.startswith(b"HTTP/1.1 200")
                if not good:
                    print("failed: status line %r" % line, file=sys.stderr, flush=True)
        except OSError as e:
            print("failed:", e, file=sys.stderr, flush=True)
            good = False
        with lock:
            counts["ok" if good else "failed"] += 1


daemon = start()
workers_ = [threading.Thread(target=client) for _ in range(int(threads))]
try:
    for t in workers_:
        t.start()
    for _ in range(int(restarts)):
        time.sleep(float(gap))
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=30)
        daemon = start()
    time.sleep(float(gap))
finally:
    done.set()
    for t in workers_:
        t.join()
    daemon.send_signal(signal.SIGTERM)
    daemon.wait(timeout=30)
print("ok=%d failed=%d restarts=%s" % (counts["ok"], counts["failed"], restarts), flush=True)
