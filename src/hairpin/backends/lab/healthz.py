"""kube-proxy's health check server for a Service with externalTrafficPolicy Local, and the NLB's probe of it.

    python -m hairpin.backends.lab.healthz --port 32123 --service nginx-demo/service-nginx-demo --local-endpoints 1
    python -m hairpin.backends.lab.healthz --probe 192.168.2.3:32123,192.168.21.86:32123
    python -m hairpin.backends.lab.healthz --port 32123 --service ns/name --local-endpoints 0 --bind ::

An IPv6 scenario's server binds ``::`` and its probe names targets ``[addr]:port``.

The server runs in a node's namespace on the Service's healthCheckNodePort and answers every GET the way
kube-proxy's does: 200 with ``{"service": {...}, "localEndpoints": N}`` when the node has a local endpoint,
503 when it has none.  The probe runs in the vpc namespace, where the emulated NLB lives, and prints one
JSON object ``{"ip:port": status}`` (0 when nothing answered).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["main", "probe"]


def _handler(service: str, local: int) -> type[BaseHTTPRequestHandler]:
    namespace, _, name = service.partition("/")
    body = json.dumps({"service": {"namespace": namespace, "name": name}, "localEndpoints": local}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if local > 0 else 503)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    return Handler


def probe(targets: list[str], timeout: float = 2.0) -> dict[str, int]:
    """HTTP GET / on each ip:port, as the NLB's health check does; the status, or 0 without an answer."""
    out: dict[str, int] = {}
    for t in targets:
        host, _, port = t.rpartition(":")
        conn = http.client.HTTPConnection(host.strip("[]"), int(port), timeout=timeout)  # [IPv6]:port
        try:
            conn.request("GET", "/")
            out[t] = conn.getresponse().status
        except OSError:
            out[t] = 0
        finally:
            conn.close()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int)
    ap.add_argument("--service", default="")
    ap.add_argument("--local-endpoints", type=int, default=0)
    ap.add_argument("--bind", default="0.0.0.0", help="address to listen on (:: for IPv6)")
    ap.add_argument("--probe", help="comma-separated ip:port to probe (and print the statuses as JSON)")
    a = ap.parse_args(argv)
    if a.probe is not None:
        print(json.dumps(probe([t for t in a.probe.split(",") if t])))
        return 0
    if a.port is None:
        ap.error("--port or --probe is required")
    server_class = ThreadingHTTPServer
    if ":" in a.bind:

        class Server6(ThreadingHTTPServer):
            address_family = socket.AF_INET6

        server_class = Server6
    server = server_class((a.bind, a.port), _handler(a.service, a.local_endpoints))
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
