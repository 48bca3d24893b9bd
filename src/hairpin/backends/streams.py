"""The texts the simulator seeds each connection's random streams with, one stream per source of chance.

Every stream of connection ``conn_id`` under ``seed`` is ``random.Random(f"{seed}:{conn_id}:{name}")``: the
simulator's own are ``client-port`` (the client's ephemeral port), ``dns`` (which NLB address the name
resolves to) and ``nlbN``/``clbN`` (a load balancer's flow-hash key); each Linux host (node or pod) draws from
one named after it (kube-proxy's ``-m statistic`` choices, NAT ports, ISNs) and an IPVS host also from
``NAME:ipvs`` (where its round-robin schedulers stand).  Two streams seeded with the same text give the same
numbers, so a pod called ``dns`` would make decisions that follow the DNS answer's instead of independent
ones.  A host name that is one of the simulator's own, or that is not a DNS-1123 name (Kubernetes names are:
lower case letters, digits, ``-`` and ``.``), is written ``host[NAME]``: no name of the other kinds holds a
``[``, and none but these ends with ``]``, so every text names one stream.  Names of the usual form are kept
as they are, so the draws of every other scenario are unchanged.
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["host_of", "host_stream", "ipvs_stream", "own_stream"]

_OWN = re.compile(r"client-port|dns|(?:nlb|clb)[0-9]+")
_DNS_1123 = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?")


def own_stream(name: str) -> bool:
    """Whether ``name`` is one of the simulator's own streams (not a host's)."""
    return _OWN.fullmatch(name) is not None


@lru_cache(maxsize=4096)
def host_stream(host: str) -> str:
    """The stream name of Linux host ``host``."""
    if _OWN.fullmatch(host) is None and _DNS_1123.fullmatch(host) is not None:
        return host
    return f"host[{host}]"


def ipvs_stream(host: str) -> str:
    """The stream name of where ``host``'s IPVS schedulers stand."""
    return f"{host_stream(host)}:ipvs"


def host_of(stream: str) -> str:
    """The host a host's or an IPVS stream name (``host_stream``, ``ipvs_stream``) belongs to."""
    if stream.endswith(":ipvs"):
        stream = stream[:-5]
    return stream[5:-1] if stream.startswith("host[") and stream.endswith("]") else stream
