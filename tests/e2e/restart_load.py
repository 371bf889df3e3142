#!/usr/bin/env python3
"""restart_load.py — restarts under load on a socket that never closes, as under systemd's socket
activation: this process binds and holds the listening socket, runs provisiond on it (LISTEN_FDS,
as fd 3), and while THREADS threads make one mTLS GET cacerts per connection it stops the daemon
(SIGTERM once it listens, waits for its exit) and starts the next one, RESTARTS times. Prints
"ok=N failed=M restarts=R bad_exits=K" (a failure: anything but a 200; a bad exit: a daemon that
did not exit 0) and, on stderr, each failure. Every wait is bounded; the daemons die with this
process (setpriv --pdeathsig), also when it is killed.

  restart_load.py PROVISIOND STATE_DIR TRUST CA DEVICE_DIR RESTARTS WORKERS THREADS GAP_S LOG
"""
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time

(prov, state, trust, ca, dev, restarts, workers, threads, gap, log_path) = sys.argv[1:11]
signal.signal(signal.SIGTERM, lambda *_: sys.exit(2))  # the finally below still runs

listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(512)
port = listener.getsockname()[1]
log = open(log_path, "ab")
started = 0


def listening_lines():
    with open(log_path, "rb") as f:
        return sum(1 for line in f if line.startswith(b"<5>listening on "))


def start():
    """The next daemon, returned once it says it listens (30 s at most)."""
    global started
    # The socket becomes fd 3 in the shell (Popen closes every descriptor but pass_fds).
    move = 'if [ "$1" != 3 ]; then exec 3<&"$1"; eval "exec $1<&-"; fi; shift; '
    p = subprocess.Popen(
        ["bash", "-c", move + 'LISTEN_PID=$$ LISTEN_FDS=1 exec setpriv --pdeathsig KILL -- "$@"',
         "_", str(listener.fileno()), prov, "serve", "--state-dir", state, "--trust", trust,
         "--workers", workers, "--drain-timeout", "3s"],
        pass_fds=(listener.fileno(),), stdout=log, stderr=log)
    started += 1
    deadline = time.time() + 30
    while listening_lines() < started and p.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    return p


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


def stop(p):
    """SIGTERM, then the exit status (-9 if it had to be killed after 30 s)."""
    p.send_signal(signal.SIGTERM)
    try:
        return p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        return -9


bad_exits = 0
daemon = start()
clients = [threading.Thread(target=client) for _ in range(int(threads))]
try:
    for t in clients:
        t.start()
    for _ in range(int(restarts)):
        time.sleep(float(gap))
        rc = stop(daemon)
        if rc != 0:
            bad_exits += 1
            print("failed: a daemon exited with %d" % rc, file=sys.stderr, flush=True)
        daemon = start()
    time.sleep(float(gap))
finally:
    done.set()
    for t in clients:
        t.join()
    if stop(daemon) != 0:
        bad_exits += 1
print("ok=%d failed=%d restarts=%s bad_exits=%d" % (counts["ok"], counts["failed"], restarts,
                                                     bad_exits), flush=True)
