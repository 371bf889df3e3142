#!/usr/bin/env python3
"""hold_connection.py — an EST client that keeps one TLS connection open across an operator's
action: it sends GET cacerts (the handshake and the first request done), prints "ready <status>",
waits until GO_FILE exists, then sends POST ENDPOINT with the CSR on the SAME connection and
prints "<status> <reason line>". Used by status_in_transaction.sh; curl cannot pause mid-connection.

usage: hold_connection.py PORT CA_FILE CERT KEY CSR_B64_FILE ENDPOINT GO_FILE
"""
import os
import socket
import ssl
import sys
import time


def request(conn, method, path, body=b"", content_type=None):
    head = f"{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {len(body)}\r\n"
    if content_type:
        head += f"Content-Type: {content_type}\r\n"
    conn.sendall(head.encode() + b"\r\n" + body)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            raise SystemExit("connection closed before the response headers")
        data += chunk
    header, _, rest = data.partition(b"\r\n\r\n")
    lines = header.decode("latin-1").split("\r\n")
    status = lines[0].split(" ")[1]
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    while len(rest) < length:
        chunk = conn.recv(4096)
        if not chunk:
            raise SystemExit("connection closed inside the response body")
        rest += chunk
    first_line = rest[:length].decode("latin-1").split("\n")[0].strip()
    return status, first_line


def main():
    port, ca, cert, key, csr_file, endpoint, go_file = sys.argv[1:8]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(ca)
    ctx.load_cert_chain(cert, key)
    raw = socket.create_connection(("127.0.0.1", int(port)), timeout=20)
    with ctx.wrap_socket(raw, server_hostname="localhost") as conn:
        status, _ = request(conn, "GET", "/.well-known/est/cacerts")
        print("ready", status, flush=True)
        deadline = time.monotonic() + 20
        while not os.path.exists(go_file):
            if time.monotonic() > deadline:
                raise SystemExit("GO_FILE never appeared")
            time.sleep(0.05)
        with open(csr_file, "rb") as f:
            body = f.read()
        status, reason = request(conn, "POST", "/.well-known/est/" + endpoint, body,
                                 "application/pkcs10")
        print(status, reason, flush=True)


if __name__ == "__main__":
    main()
