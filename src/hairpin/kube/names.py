"""kube-proxy's iptables chain names and ``--probability`` values, computed as kube-proxy computes them.

Chain names (kubernetes/kubernetes, pkg/proxy/iptables/proxier.go, ``portProtoHash`` and
``servicePortEndpointChainName``): the first 16 characters of base32(sha256(input)), after a prefix:

- ``KUBE-SVC-`` / ``KUBE-SVL-`` / ``KUBE-EXT-`` / ``KUBE-FW-`` / ``KUBE-XLB-`` (XLB: up to 1.23):
  input = service port name + protocol, e.g. ``"nginx-demo/service-nginx-demo:" + "tcp"``;
- ``KUBE-SEP-``: input = service port name + protocol + endpoint ``"ip:port"``.

The service port name is ``ServicePortName.String()``: ``namespace/name:port-name`` in kube-proxy
1.18 (so ``"ns/name:"`` for an unnamed port, as the seed's comments show), and ``namespace/name``
plus ``:port-name`` only when the port has a name in the later releases (the 1.24+ layouts here).
The protocol is lower case (``strings.ToLower(string(svcInfo.Protocol()))``).

Probabilities: kube-proxy writes ``fmt.Sprintf("%0.10f", 1.0/float64(n))`` for the i-th of n
endpoints with n-i endpoints left (``computeProbability``); the kernel's xt_statistic keeps
``lround(p * 2^31)`` as a u32 and ``iptables-save`` prints ``value / 2^31`` with ``%.11f``
(iptables extensions/libxt_statistic.c), which is why a node's dump shows 0.33333333349 for 1/3.
"""

from __future__ import annotations

import base64
import hashlib
import math
from fractions import Fraction

__all__ = [
    "endpoint_chain",
    "external_chain",
    "firewall_chain",
    "kube_proxy_probability",
    "local_chain",
    "port_proto_hash",
    "probability_fraction",
    "saved_probability",
    "service_chain",
    "service_port_name",
    "xlb_chain",
]

_SCALE = 0x80000000  # 2^31: xt_statistic's fixed-point scale


def _hash16(text: str) -> str:
    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()[:16]


def service_port_name(namespace: str, name: str, port_name: str, legacy_colon: bool = False) -> str:
    """``ServicePortName.String()``: ``ns/name:port`` (1.18 always writes the colon; later only with a name)."""
    if legacy_colon or port_name:
        return f"{namespace}/{name}:{port_name}"
    return f"{namespace}/{name}"


def port_proto_hash(svc_port_name: str, protocol: str) -> str:
    """The 16-character hash of ``svc_port_name + protocol`` (protocol lower-cased as kube-proxy does)."""
    return _hash16(svc_port_name + protocol.lower())


def service_chain(svc_port_name: str, protocol: str) -> str:
    """``KUBE-SVC-…``: the Cluster-policy chain (all endpoints)."""
    return "KUBE-SVC-" + port_proto_hash(svc_port_name, protocol)


def local_chain(svc_port_name: str, protocol: str) -> str:
    """``KUBE-SVL-…``: the Local-policy chain (this node's endpoints), kube-proxy >= 1.24."""
    return "KUBE-SVL-" + port_proto_hash(svc_port_name, protocol)


def external_chain(svc_port_name: str, protocol: str) -> str:
    """``KUBE-EXT-…``: where NodePort/LoadBalancer/external IP traffic enters, kube-proxy >= 1.24."""
    return "KUBE-EXT-" + port_proto_hash(svc_port_name, protocol)


def firewall_chain(svc_port_name: str, protocol: str) -> str:
    """``KUBE-FW-…``: the load balancer IP chain (loadBalancerSourceRanges)."""
    return "KUBE-FW-" + port_proto_hash(svc_port_name, protocol)


def xlb_chain(svc_port_name: str, protocol: str) -> str:
    """``KUBE-XLB-…``: externalTrafficPolicy Local up to kube-proxy 1.23."""
    return "KUBE-XLB-" + port_proto_hash(svc_port_name, protocol)


def endpoint_chain(svc_port_name: str, protocol: str, endpoint: str) -> str:
    """``KUBE-SEP-…`` for one endpoint ``"ip:port"``."""
    return "KUBE-SEP-" + _hash16(svc_port_name + protocol.lower() + endpoint)


def kube_proxy_probability(n: int) -> str:
    """What kube-proxy writes for a rule with ``n`` endpoints left: ``%0.10f`` of 1/n."""
    if n < 1:
        raise ValueError(f"probability needs n >= 1, got {n}")
    return f"{1.0 / n:.10f}"


def _stored(text: str) -> int:
    """The u32 xt_statistic stores for a ``--probability`` argument: lround(p * 2^31)."""
    return math.floor(float(text) * _SCALE + 0.5)


def probability_fraction(text: str) -> Fraction:
    """The exact probability the kernel applies for a ``--probability`` argument."""
    return Fraction(_stored(text), _SCALE)


def saved_probability(text: str) -> str:
    """The ``--probability`` value ``iptables-save`` prints after ``iptables-restore`` of ``text``."""
    return f"{_stored(text) / _SCALE:.11f}"
