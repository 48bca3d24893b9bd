"""A stub Kubernetes API server for live-read tests: a handler class served on a free local port, and the
kubeconfig (context ``stub``) that points the client at it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler], directory: Path) -> Iterator[Path]:
    """Serve ``handler`` until the block ends; yields the path of a kubeconfig written in ``directory``."""
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    cfg = {
        "apiVersion": "v1", "kind": "Config", "current-context": "stub",
        "clusters": [{"name": "stub", "cluster": {"server": f"http://127.0.0.1:{srv.server_address[1]}"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "stub", "context": {"cluster": "stub", "user": "u"}}],
    }  # fmt: skip
    path = directory / "kubeconfig"
    path.write_text(yaml.safe_dump(cfg))
    try:
        yield path
    finally:
        srv.shutdown()
