"""Kubernetes LoadBalancerIPMode (KEP-1860): which load balancer addresses kube-proxy captures on the node.

Facts (kubernetes/kubernetes):

- ``status.loadBalancer.ingress[].ipMode`` is ``VIP`` or ``Proxy``; the feature gate LoadBalancerIPMode is
  alpha in 1.29 (off), beta in 1.30 (on by default) and GA in 1.32, locked on (``pkg/features/kube_features.go``).
- kube-proxy takes an ingress address as a load balancer VIP unless its ipMode is Proxy (an ingress with
  no ipMode counts as VIP, ``pkg/proxy/util`` IsVIPMode), and skips ingresses with no IP
  (``pkg/proxy/serviceport.go``).  For every VIP it writes a rule that sends traffic to that address to the
  Service's endpoints on the node itself (iptables: a KUBE-SERVICES "loadbalancer IP" rule,
  ``pkg/proxy/iptables/proxier.go``; ipvs and nftables likewise).  Before the gate (1.29 with it off, and
  earlier releases) kube-proxy takes every ingress IP, whatever its ipMode.
- So an in-cluster caller that connects to a VIP-mode address never reaches the load balancer: no hairpin,
  and no security group in its way either.  With ipMode Proxy, or with only a hostname in the status (what
  the AWS Load Balancer Controller and the AWS cloud provider publish today: ``controllers/service/
  service_controller.go`` sets ``ingress.hostname``), traffic goes out to the NLB.
- kubernetes-sigs/aws-load-balancer-controller issue #4803 ("Use kube-proxy's loadbalancer-ip-mode to
  avoid hairpinning traffic", open) asks the controller to publish the NLB's addresses with ipMode VIP.
  Residual risk then: a caller that connects to an NLB address not in the status (one per enabled AZ; a
  status missing one) still goes to the NLB.

The kube-proxy rules themselves are ``hairpin.kube.proxy``'s business; this module only says which
addresses are captured, and (``place``, for ``hairpin scenario from-cluster``) puts a status's
addresses in the AZs of a scenario: the status names no AZ, so each address goes to the AZ whose
node and pod addresses share the longest prefix with it (a guess the scenario's notes state).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

__all__ = ["Capture", "capture", "ipv4", "place"]

#: the first kube-proxy minor on which ipMode is honoured by default (beta, on)
HONOURED_FROM = (1, 30)


@dataclass(frozen=True)
class Capture:
    """What kube-proxy does with a Service's load balancer ingress addresses."""

    captured: tuple[str, ...]  # addresses handled on the node (callers of them never reach the NLB)
    proxied: tuple[str, ...]  # ipMode Proxy addresses kube-proxy leaves alone
    hostnames: tuple[str, ...]
    note: str


def capture(ingress: Iterable[Sequence[str | None]], kube_proxy: tuple[int, int] | None) -> Capture:
    """``ingress``: (ip, hostname, ipMode) triples; ``kube_proxy``: the oldest kube-proxy (major, minor), if known."""
    captured: list[str] = []
    proxied: list[str] = []
    hosts: list[str] = []
    honoured = kube_proxy is None or tuple(kube_proxy) >= HONOURED_FROM
    for ip, host, mode in ingress:
        if host:
            hosts.append(host)
        if not ip:
            continue
        if mode == "Proxy" and honoured:
            proxied.append(ip)
        else:
            captured.append(ip)
    if kube_proxy is None:
        note = "kube-proxy version unknown: assumed 1.30 or later, which honours ipMode"
    elif honoured:
        note = f"kube-proxy {kube_proxy[0]}.{kube_proxy[1]} honours ipMode (LoadBalancerIPMode, beta in 1.30, GA in 1.32)"
    else:
        note = (f"kube-proxy {kube_proxy[0]}.{kube_proxy[1]} predates LoadBalancerIPMode (on by default from 1.30): it "
                "captures every ingress IP, whatever its ipMode")  # fmt: skip
    return Capture(tuple(captured), tuple(proxied), tuple(hosts), note)



def ipv4(addresses: Iterable[str]) -> tuple[str, ...]:
    """The IPv4 addresses among ``addresses`` (a status may hold IPv6 ones, or anything)."""
    out = []
    for a in addresses:
        try:
            out.append(str(ipaddress.IPv4Address(a)))
        except ValueError:
            continue
    return tuple(out)


def place(addresses: Sequence[str], by_az: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """At most one load balancer address (IPv4) per AZ of ``by_az`` (AZ -> IPv4 addresses seen there),
    in the status's order: each to the AZ not yet given one whose addresses share the longest prefix
    with it (ties: the first AZ by name)."""
    out: dict[str, str] = {}
    seen = {x for v in by_az.values() for x in v}
    for ip in addresses:
        if ip in seen:  # a node's or a pod's own address: not the load balancer's
            continue
        a = int(ipaddress.IPv4Address(ip))

        def common(az: str, a: int = a) -> int:
            return max((32 - (a ^ int(ipaddress.IPv4Address(x))).bit_length() for x in by_az[az]), default=-1)

        free = [az for az in sorted(by_az) if az not in out]
        if free:
            out[max(free, key=common)] = ip
    return out
