"""A Classic ELB node in the lab: a real TCP proxy, run inside the lab's vpc namespace.

    python -m hairpin.backends.lab.clb_proxy --listen 192.168.168.103:80 \\
        --targets 192.168.2.3:31468,192.168.21.86:31468 --log /run/hairpin/labs/hp...-clb0.log

It listens on the load balancer node's address, accepts the caller's connection itself (the kernel answers
the caller's SYN from the listener's address), picks one of its targets uniformly at random (the simulator
models the CLB's round robin the same way, ``hairpin.aws.clb``), and opens its own connection to it from the
load balancer node's address: the target sees the load balancer, never the caller.  Bytes are relayed both
ways.  One JSON line per accepted connection is appended to the log:
``{"client": "ip:port", "back": "ip:port", "target": "ip:port", "backend": "established" | "<error>"}``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sys
from typing import TextIO

__all__ = ["main"]


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


class Proxy:
    def __init__(self, addr: str, targets: list[tuple[str, int]], log: TextIO, backend_timeout: float) -> None:
        self.addr = addr
        self.targets = targets
        self.log = log
        self.backend_timeout = backend_timeout
        self.rng = random.Random()

    def _record(self, **fields: str) -> None:
        self.log.write(json.dumps(fields) + "\n")
        self.log.flush()

    async def handle(self, creader: asyncio.StreamReader, cwriter: asyncio.StreamWriter) -> None:
        peer = cwriter.get_extra_info("peername")
        client = f"{peer[0]}:{peer[1]}"
        if not self.targets:
            self._record(client=client, back="", target="", backend="no target")
            cwriter.close()
            return
        host, port = self.rng.choice(self.targets)
        target = f"{host}:{port}"
        try:
            breader, bwriter = await asyncio.wait_for(
                asyncio.open_connection(host, port, local_addr=(self.addr, 0)), self.backend_timeout
            )
        except (OSError, TimeoutError) as exc:
            self._record(client=client, back="", target=target, backend=type(exc).__name__)
            cwriter.close()
            return
        local = bwriter.get_extra_info("sockname")
        self._record(client=client, back=f"{local[0]}:{local[1]}", target=target, backend="established")
        await asyncio.gather(_pipe(creader, bwriter), _pipe(breader, cwriter))


async def _serve(a: argparse.Namespace) -> None:
    addr, _, port = a.listen.rpartition(":")
    targets = [(t.rpartition(":")[0], int(t.rpartition(":")[2])) for t in a.targets.split(",") if t]
    with open(a.log, "a", encoding="utf-8") as log:
        proxy = Proxy(addr, targets, log, a.backend_timeout)
        server = await asyncio.start_server(proxy.handle, addr, int(port), reuse_address=True, backlog=512)
        async with server:
            await server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True, help="address:port of the load balancer node's listener")
    ap.add_argument("--targets", required=True, help="comma-separated ip:port targets")
    ap.add_argument("--log", required=True)
    ap.add_argument("--backend-timeout", type=float, default=10.0)
    a = ap.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(a))
    return 0


if __name__ == "__main__":
    sys.exit(main())
