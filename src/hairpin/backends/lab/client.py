"""Runs inside the client's namespace: connect from each given source port, at once, and report.

    python -m hairpin.backends.lab.client --src IP --dst IP --port P --sports 40001,40002@10.0.0.5 --timeout 3.5

A source port may carry its own destination (``SPORT@DST``: the DNS answer of that connection); the
others go to ``--dst``.  An IPv6 ``--src`` makes IPv6 sockets.

Each connection is a non-blocking connect() bound to src:sport; the outcome is read from SO_ERROR when
the socket becomes writable: 0 -> established, ECONNREFUSED -> reset, ETIMEDOUT or the client-side
timeout -> timeout.  One JSON line per connection on stdout.
"""

from __future__ import annotations

import argparse
import errno
import json
import selectors
import socket
import sys
import time


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--src", required=True)
    ap.add_argument("--dst", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--sports", required=True)
    ap.add_argument("--timeout", type=float, default=3.5)
    ap.add_argument("--stagger", type=float, default=0.02)
    a = ap.parse_args(argv)
    sel = selectors.DefaultSelector()
    started: dict[int, float] = {}
    socks: dict[int, socket.socket] = {}
    for item in a.sports.split(","):
        port_text, _, dst = item.partition("@")
        sport = int(port_text)
        s = socket.socket(socket.AF_INET6 if ":" in a.src else socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((a.src, sport))
        s.setblocking(False)
        started[sport] = time.monotonic()
        rc = s.connect_ex((dst or a.dst, a.port))
        socks[sport] = s
        if rc not in (0, errno.EINPROGRESS):
            _report(sport, "reset" if rc == errno.ECONNREFUSED else "timeout", 0.0, rc)
            s.close()
            del socks[sport]
            continue
        sel.register(s, selectors.EVENT_WRITE, sport)
        _poll(sel, socks, started, a.stagger, a.timeout)
    while socks:
        deadline = min(started[p] for p in socks) + a.timeout
        _poll(sel, socks, started, max(0.0, deadline - time.monotonic()), a.timeout)
    return 0


def _poll(
    sel: selectors.BaseSelector,
    socks: dict[int, socket.socket],
    started: dict[int, float],
    wait: float,
    timeout: float,
) -> None:
    """Report the connections that finished within ``wait`` seconds, and those past the timeout."""
    if socks:
        for key, _ in sel.select(wait):
            sport = key.data
            s = socks.pop(sport)
            sel.unregister(s)
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            outcome = {0: "established", errno.ECONNREFUSED: "reset"}.get(err, "timeout")
            _report(sport, outcome, time.monotonic() - started[sport], err)
            s.close()
    else:
        time.sleep(wait)
    now = time.monotonic()
    for sport in [p for p in socks if now - started[p] >= timeout]:
        s = socks.pop(sport)
        sel.unregister(s)
        _report(sport, "timeout", now - started[sport], errno.ETIMEDOUT)
        s.close()


def _report(sport: int, outcome: str, elapsed: float, err: int) -> None:
    print(json.dumps({"sport": sport, "outcome": outcome, "elapsed_s": round(elapsed, 6), "errno": err}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
