#!/usr/bin/env python3
"""lingering_close.py — clients that send a request body the daemon refuses before reading it
(413: Content-Length over --max-body-bytes), and keep sending. Prints one line per case.

  slow      sends the headers and 1 KiB, waits 0.3 s (the 413 is answered by then), sends the
            rest of a 256 KiB body in 16 KiB pieces, then reads: a client such as curl must be
            able to send its whole body and read the 413 (no RST). Prints "413" or the error.
  flood     declares 1 GiB and sends raw bytes until the daemon ends the connection: prints
            "ended after N bytes" (bounded: the daemon discards at most its byte bound).
  trickle   declares 1 GiB and sends 64 bytes every 0.1 s: prints "ended after S seconds"
            (bounded: the daemon lingers at most its time bound).

usage: lingering_close.py CASE PORT CA_FILE CERT KEY
"""
import os
import socket
import ssl
import sys
import time


def connect(port, ca, cert, key):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.load_cert_chain(cert, key)
    ctx.check_hostname = False
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    return ctx.wrap_socket(raw, server_hostname="localhost")


def head(length):
    return (f"POST /.well-known/est/simpleenroll HTTP/1.1\r\nHost: localhost\r\n"
            f"Content-Type: application/pkcs10\r\nContent-Length: {length}\r\n\r\n").encode()


def read_all(conn):
    data = b""
    while True:
        try:
            chunk = conn.recv(65536)
        except ssl.SSLZeroReturnError:
            break
        if not chunk:
            break
        data += chunk
    return data


def slow(conn):
    body = b"A" * (256 * 1024)
    try:
        conn.sendall(head(len(body)) + body[:1024])
        time.sleep(0.3)
        for at in range(1024, len(body), 16 * 1024):
            conn.sendall(body[at:at + 16 * 1024])
            time.sleep(0.02)
    except OSError as e:
        return f"send failed: {type(e).__name__}: {e}"
    try:
        data = read_all(conn)
    except OSError as e:
        return f"read failed: {type(e).__name__}: {e}"
    line = data.split(b"\r\n", 1)[0].decode("latin-1")
    return line.split(" ")[1] if line.startswith("HTTP/1.1 ") else f"no status line: {data[:60]!r}"


def raw_sender(conn):
    conn.sendall(head(1 << 30) + b"A" * 1024)
    time.sleep(0.3)  # answered: from now on the daemon reads raw bytes and discards them
    return socket.socket(fileno=os.dup(conn.fileno()))


def flood(conn):
    raw = raw_sender(conn)
    raw.settimeout(20)
    sent, chunk = 0, b"B" * 65536
    try:
        while sent < (1 << 30):
            sent += raw.send(chunk)
    except OSError:
        return f"ended after {sent} bytes"
    return f"not ended after {sent} bytes"


def trickle(conn):
    raw = raw_sender(conn)
    start = time.monotonic()
    try:
        while time.monotonic() - start < 12:
            raw.send(b"C" * 64)
            time.sleep(0.1)
    except OSError:
        return f"ended after {time.monotonic() - start:.1f} seconds"
    return "not ended after 12 seconds"


def main():
    case, port, ca, cert, key = sys.argv[1:6]
    conn = connect(int(port), ca, cert, key)
    print({"slow": slow, "flood": flood, "trickle": trickle}[case](conn))


if __name__ == "__main__":
    main()
