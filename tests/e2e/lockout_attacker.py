#!/usr/bin/env python3
"""lockout_attacker.py — holds silent TCP connections against provisiond from chosen source
addresses and reopens each one the server closes, as a lockout attacker would (issue #18).

usage: lockout_attacker.py PORT --sources 127.0.0.2[,127.0.0.3...] --per-source N
           [--reopen-interval S] [--send HEX] [--ready FILE] [--stats FILE]

Each of the N x len(sources) slots keeps one connection open, bound to its source before
connect, sending nothing (or, with --send, those bytes once connected, e.g. 16 for one byte of
a TLS record header, and then nothing). A slot whose connection the server closes (EOF or RST) reopens it after
--reopen-interval. When every slot has made its first connection, FILE (--ready) is created.
On SIGTERM/SIGINT it writes JSON counts to --stats (opened, closed_by_server, held) and exits.
Used by tests/e2e/source_lockout.sh and bench/steps/82_lockout.sh.
"""
import argparse
import errno
import json
import resource
import selectors
import signal
import socket
import time


def parse():
    p = argparse.ArgumentParser()
    p.add_argument("port", type=int)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--sources", required=True, help="comma-separated source addresses")
    p.add_argument("--per-source", type=int, required=True)
    p.add_argument("--reopen-interval", type=float, default=0.05)
    p.add_argument("--send", default="", help="hex bytes each connection sends, then nothing")
    p.add_argument("--ready")
    p.add_argument("--stats")
    return p.parse_args()


class Slot:
    def __init__(self, source):
        self.source = source
        self.sock = None
        self.due = 0.0  # when a closed slot may reopen
        self.unsent = b""  # --send bytes not yet taken by the socket


def main():
    a = parse()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    sel = selectors.DefaultSelector()
    slots = [Slot(s) for s in a.sources.split(",") for _ in range(a.per_source)]
    counts = {"opened": 0, "closed_by_server": 0, "open_failed": 0, "max_held": 0}
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    ready_written = False
    first_round = set()

    def open_slot(i, slot):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.bind((slot.source, 0))
            err = s.connect_ex((a.host, a.port))
        except OSError:
            err = errno.EADDRNOTAVAIL
        if err not in (0, errno.EINPROGRESS):
            s.close()
            counts["open_failed"] += 1
            slot.due = time.monotonic() + a.reopen_interval
            return
        slot.sock = s
        slot.unsent = bytes.fromhex(a.send)
        counts["opened"] += 1
        first_round.add(i)
        sel.register(s, selectors.EVENT_READ, i)

    while not stop:
        now = time.monotonic()
        for i, slot in enumerate(slots):
            if slot.sock is None and now >= slot.due:
                open_slot(i, slot)
            if slot.sock is not None and slot.unsent:
                try:
                    slot.unsent = slot.unsent[slot.sock.send(slot.unsent):]
                except OSError:
                    pass  # not connected yet (EAGAIN, ENOTCONN): the next turn tries again
        held = sum(1 for s in slots if s.sock is not None)
        counts["max_held"] = max(counts["max_held"], held)
        if not ready_written and len(first_round) == len(slots) and a.ready:
            open(a.ready, "w").close()
            ready_written = True
        for key, _ in sel.select(timeout=a.reopen_interval / 2 or 0.01):
            slot = slots[key.data]
            try:
                data = slot.sock.recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if data:
                continue  # the server sent something (it never should before a ClientHello)
            sel.unregister(slot.sock)
            slot.sock.close()
            slot.sock = None
            slot.due = time.monotonic() + a.reopen_interval
            counts["closed_by_server"] += 1
    counts["held"] = sum(1 for s in slots if s.sock is not None)
    if a.stats:
        with open(a.stats, "w") as f:
            json.dump(counts, f)


if __name__ == "__main__":
    main()
