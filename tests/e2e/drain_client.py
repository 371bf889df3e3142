#!/usr/bin/env python3
"""drain_client.py — clients for e2e/sigterm_drain.sh's section 3, each printing "half" once its
first part is on the wire, then waiting for the file GO (20 s at most) to send the rest and
printing what it got:

  split_record PORT CA DEVICE_DIR GO   on a keep-alive connection, one GET cacerts answered,
                                       then a second one whose TLS record is sent in two parts
                                       (TLS through memory BIOs, so the record is split on the
                                       wire): prints the second status line, or "closed"
  split_headers PORT CA DEVICE_DIR GO  a keep-alive GET cacerts without its final CRLF, then
                                       the CRLF: prints "close" if the answer says Connection:
                                       close, else "keep-alive"; then "eof" once the server
                                       closes (5 s at most), else "open"
"""
import os
import socket
import ssl
import sys
import time

mode, port, ca, dev, go = sys.argv[1:6]
GET = b"GET /.well-known/est/cacerts HTTP/1.1\r\nHost: localhost\r\n"


def wait_go():
    print("half", flush=True)
    for _ in range(400):
        if os.path.exists(go):
            return
        time.sleep(0.05)


def context():
    ctx = ssl.create_default_context(cafile=ca)
    ctx.load_cert_chain(os.path.join(dev, "bootstrap.crt"), os.path.join(dev, "bootstrap.key"))
    return ctx


def read_response(recv):
    """Headers and a Content-Length body; the status line and the headers' text."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += recv()
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        body += recv()
    return head.split(b"\r\n")[0].decode(), head.decode().lower()


def split_record():
    raw = socket.create_connection(("127.0.0.1", int(port)), timeout=20)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context().wrap_bio(incoming, outgoing, server_hostname="localhost")

    def pump_out():
        data = outgoing.read()
        if data:
            raw.sendall(data)

    def pump_in():
        data = raw.recv(65536)
        if not data:
            raise EOFError
        incoming.write(data)

    while True:
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            pump_out()
            pump_in()
    pump_out()

    def recv():
        while True:
            try:
                return tls.read(65536)
            except ssl.SSLWantReadError:
                pump_out()
                pump_in()

    tls.write(GET + b"\r\n")
    pump_out()
    read_response(recv)
    tls.write(GET + b"Connection: close\r\n\r\n")
    record = outgoing.read()
    raw.sendall(record[: len(record) // 2])
    wait_go()
    try:
        raw.sendall(record[len(record) // 2:])
        print(read_response(recv)[0], flush=True)
    except (OSError, EOFError, ssl.SSLError):
        print("closed", flush=True)


def split_headers():
    s = context().wrap_socket(socket.create_connection(("127.0.0.1", int(port)), timeout=5),
                              server_hostname="localhost")
    s.sendall(GET)
    wait_go()
    s.sendall(b"\r\n")
    status, head = read_response(lambda: s.recv(65536))
    print("close" if "connection: close" in head else "keep-alive", flush=True)
    try:
        print("open" if s.recv(65536) else "eof", flush=True)
    except socket.timeout:
        print("open", flush=True)
    except OSError:
        print("eof", flush=True)


{"split_record": split_record, "split_headers": split_headers}[mode]()
