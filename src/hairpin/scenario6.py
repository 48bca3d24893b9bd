"""What an IPv6 scenario may hold: the parts of the model that know IPv6, and a one-line refusal for the rest.

An IPv6 scenario (every address IPv6: ``Scenario.family`` 6) is a single-stack IPv6 EKS cluster: nodes and pods
with IPv6 addresses (the VPC CNI's IPv6 mode, ENABLE_IPv6 with prefix delegation), Services with IPv6 cluster
IPs, and an internal dualstack NLB whose IPv6 target group the caller reaches over IPv6 (the AWS Load Balancer
Controller builds an ``ipv6`` target group for a Service whose ``spec.ipFamilies`` holds IPv6 behind a
dualstack NLB: ``hairpin.aws.ipfamily``).  What the model knows in IPv6 (docs/model.md):

- kube-proxy's iptables mode from 1.28 (its ip6tables rules: ``hairpin.kube.proxy``; the IPv6 NodePort rule
  ``! -d ::1/128`` was read in the current proxier.go only, so earlier layouts are not claimed for IPv6), and its
  nftables mode from 1.30 (``table ip6 kube-proxy``: ``hairpin.kube.nftables``); ClientIP session affinity in
  both (ip6tables' ``-m recent``, nft ``affinity-…`` sets of ``ipv6_addr``);
- the VPC CNI's IPv6 host setup (``hairpin.kube.cni``) and the pods' routes (``hairpin.topology``);
- internal NLBs (an internet-facing one reached over IPv6 needs no NAT gateway, which the VPC model does not
  tell apart yet), no Classic Load Balancer, no overlay outgoing NAT; no IPVS mode, no VPC CNI nftables
  connection marks (``table ip aws-cni`` is IPv4's).

``refuse_unmodelled(scenario, error)`` raises, at the key's line, for the first part that is not modelled;
``notes(scenario)`` says what a run of an accepted IPv6 scenario assumes (instance targets: AWS may refuse
them, as ``hairpin check`` warns, ``hairpin.aws.ipfamily``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from hairpin.errors import ScenarioError
from hairpin.kube.layout import parse_version
from hairpin.model.scenario import Scenario

__all__ = ["FIRST_CNI", "FIRST_PROXY", "notes", "refuse_misplaced_pod", "refuse_unmodelled"]

#: the first kube-proxy release whose IPv6 rules are modelled
FIRST_PROXY = (1, 28)
#: the first VPC CNI release with an IPv6 mode (amazon-vpc-cni-k8s v1.10.0: SetupHostNetwork takes v6Enabled)
FIRST_CNI = (1, 10)


def refuse_unmodelled(s: Scenario, error: Callable[[str, str], ScenarioError]) -> None:
    """Raise ``error(key path, message)`` for the first setting of IPv6 scenario ``s`` that is not modelled."""
    kp = s.kube_proxy
    if kp.mode not in ("iptables", "nftables"):
        raise error("kube_proxy.mode", f"IPv6 scenarios are modelled in iptables and nftables modes only (got "
                                       f"{kp.mode})")  # fmt: skip
    if parse_version(kp.version) < FIRST_PROXY:
        raise error("kube_proxy.version", f"IPv6 scenarios are modelled for kube-proxy 1.28 and later (got "
                                          f"{kp.version}; EKS supports IPv6 clusters from 1.21)")  # fmt: skip
    if parse_version(s.cni.version, "cni.version") < FIRST_CNI:
        raise error("cni.version", f"the VPC CNI's IPv6 mode arrived in 1.10 (got {s.cni.version})")
    if s.cni.connmark_backend != "iptables":
        raise error("cni.connmark_backend", "the VPC CNI's nftables connection marks (table ip aws-cni) are "
                                            "IPv4 rules: not modelled in IPv6 scenarios")  # fmt: skip
    if s.cni.nat_outgoing:
        raise error("cni.nat_outgoing", "an overlay CNI's outgoing NAT is not modelled in IPv6 scenarios")
    for i, svc in enumerate(s.services):
        lb = svc.load_balancer
        if lb is not None and lb.type != "nlb":
            raise error(f"services[{i}].load_balancer.type", "IPv6 scenarios model NLBs only (a Classic Load "
                                                             "Balancer has no IPv6 targets)")  # fmt: skip
        if lb is not None and lb.scheme != "internal":
            raise error(f"services[{i}].load_balancer.scheme", "IPv6 scenarios model internal NLBs only")


def refuse_misplaced_pod(s: Scenario, error: Callable[[str, str], ScenarioError]) -> None:
    """Raise ``error(key path, message)`` for the first pod (not on the host network) of IPv6 scenario ``s`` whose
    address is outside its node's subnet.  The VPC CNI's IPv6 mode gives a node's pods addresses from a /80 prefix
    delegated to the node's primary ENI (amazon-vpc-cni-k8s README, "IPv6 support"; the EKS Best Practices Guide,
    IPv6: prefix assignment is the only mode, and custom networking, which puts pods in other subnets, is IPv4's),
    and EC2 delegates an ENI prefixes of its own subnet; with ``nodes[].prefix`` given the loader already holds the
    pods to it.  (The loader accepted an IPv4-mapped or a link-local pod address here until 2026-12-03.)"""
    for i, pod in enumerate(s.pods):
        node = s.node(pod.node)
        if pod.host_network or node.prefix is not None:
            continue
        subnet = s.vpc.subnet_of(node.ip)
        if subnet is not None and ipaddress.ip_address(pod.ip) not in ipaddress.ip_network(subnet):
            raise error(f"pods[{i}].ip", f"{pod.ip} is not in the subnet of node {node.name} ({subnet}): the VPC CNI's "
                                         "IPv6 mode gives a node's pods addresses from a /80 prefix of its primary "
                                         "ENI's subnet")  # fmt: skip


def notes(s: Scenario) -> list[str]:
    """What a run of IPv6 scenario ``s`` assumes that AWS may not do: an NLB with instance targets in an IPv6
    target group.  The AWS Load Balancer Controller builds one (``hairpin.aws.ipfamily``), but the Amazon EKS
    User Guide ("Route TCP and UDP traffic with Network Load Balancers") says "You can only load balance over
    IPv6 to IP targets, not instance targets"."""
    if s.family != 6:
        return []
    return [f"{svc.namespace}/{svc.name}: instance targets in an IPv6 target group: the Amazon EKS User Guide says "
            "IPv6 load balancing works to ip targets only, so AWS may refuse this target group; the run shows what "
            "happens if it is accepted (--fix ip-targets is the documented setting)"
            for svc in s.services
            if svc.load_balancer is not None and svc.load_balancer.type == "nlb"
            and svc.load_balancer.target_type == "instance"]  # fmt: skip
