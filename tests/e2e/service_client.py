#!/usr/bin/env python3
"""service_client.py — EST clients for the service tests (systemd_container.sh), over mTLS with a
device's bootstrap certificate:

  silent PORT CA DEVICE_DIR          handshake, send nothing, print "ready", then
                                     "closed at T" (Unix time) once the server closes it
  slow PORT CA DEVICE_DIR CSR_B64 GO send an enrollment's headers and half its body, print
                                     "ready", wait for the file GO (20 s at most), send the rest,
                                     print the status line
  load PORT CA DEVICE_DIR SECONDS    4 threads of GET cacerts, one new connection each; print
                                     "ok=N failed=M" (a failure: anything but a 200)
"""
import os
import socket
import ssl
import sys
import threading
import time


def connect(port, ca, dev):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.load_cert_chain(os.path.join(dev, "bootstrap.crt"), os.path.join(dev, "bootstrap.key"))
    raw = socket.create_connection(("127.0.0.1", int(port)), timeout=20)
    return ctx.wrap_socket(raw, server_hostname="localhost")


def silent(port, ca, dev):
    s = connect(port, ca, dev)
    print("ready", flush=True)
    s.settimeout(60)
    try:
        while s.recv(65536):
            pass
    except OSError:
        pass
    print("closed at %.3f" % time.time(), flush=True)


def slow(port, ca, dev, csr, go):
    body = open(csr, "rb").read()
    s = connect(port, ca, dev)
    s.sendall(b"POST /.well-known/est/simpleenroll HTTP/1.1\r\nHost: localhost\r\n"
              b"Content-Type: application/pkcs10\r\nContent-Length: %d\r\n\r\n" % len(body))
    s.sendall(body[: len(body) // 2])
    print("ready", flush=True)
    for _ in range(400):
        if os.path.exists(go):
            break
        time.sleep(0.05)
    try:
        s.sendall(body[len(body) // 2:])
        print(s.makefile("rb").readline().decode().strip() or "closed", flush=True)
    except OSError as e:
        print("error", e, flush=True)


def load(port, ca, dev, seconds):
    counts = {"ok": 0, "failed": 0}
    lock = threading.Lock()
    end = time.time() + float(seconds)

    def run():
        while time.time() < end:
            try:
                s = connect(port, ca, dev)
                s.sendall(b"GET /.well-known/est/cacerts HTTP/1.1\r\nHost: localhost\r\n"
                          b"Connection: close\r\n\r\n")
                line = s.makefile("rb").readline()
                good = line.startswith(b"HTTP/1.1 200")
                s.close()
            except OSError as e:
                print("error", e, file=sys.stderr, flush=True)
                good = False
            with lock:
                counts["ok" if good else "failed"] += 1

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("ok=%d failed=%d" % (counts["ok"], counts["failed"]), flush=True)


if __name__ == "__main__":
    modes = {"silent": silent, "slow": slow, "load": load}
    if len(sys.argv) < 2 or sys.argv[1] not in modes:
        sys.exit(__doc__)
    modes[sys.argv[1]](*sys.argv[2:])
