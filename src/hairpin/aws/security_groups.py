"""Security groups in front of an NLB's targets: the second way in-cluster calls fail, every time.

Facts:

- The AWS Load Balancer Controller attaches security groups to the NLBs it creates from v2.6.0 (feature
  gate ``NLBSecurityGroup``, on by default; an NLB created without them cannot gain them).  Its managed
  frontend security group admits ``spec.loadBalancerSourceRanges`` (else the annotation
  ``service.beta.kubernetes.io/load-balancer-source-ranges``), else everything (``0.0.0.0/0``, and ``::/0``
  on a dualstack NLB), whatever the scheme (``pkg/service/model_build_load_balancer.go``
  buildCIDRsFromSourceRanges, v2.6.0 to v3.5.0); the targets' security group admits the NLB's backend security group
  (``pkg/service/model_build_managed_sg.go``, ``model_build_target_group.go``
  buildTargetGroupBindingNetworking).  AWS: a target rule that references the NLB's security group admits
  its traffic "even if you enable client IP preservation" ("Update the security groups for your Network
  Load Balancer").  EKS Auto Mode builds NLBs only in security group mode (EKS User Guide,
  auto-networking) and takes ``spec.loadBalancerSourceRanges`` (auto-configure-nlb).
- Without security groups on the NLB (the in-tree provider; the controller before v2.6.0 or with the gate
  off) the controller writes the targets' rules itself: with client IP preservation on (always for
  UDP/TCP_UDP/QUIC) the sources are the source ranges, else the VPC's CIDRs for internal NLBs
  (``buildTargetGroupBindingNetworkingLegacy``, ``getDefaultIPSourceRanges``); the in-tree provider
  admits the source ranges, else 0.0.0.0/0, on the instances' group (cloud-provider-aws
  ``aws_loadbalancer.go``, updateInstanceSecurityGroupsForNLB).  With preservation off the target sees the
  NLB's own address, which the rules for the NLB's subnets admit.
- kubernetes-sigs/aws-load-balancer-controller issue #3521: with v2.6 security groups and preservation on,
  targets whose group did not trust the callers' networks received nothing.

So, for a caller address ``src`` and source ranges R (empty: the default, which admits every in-cluster
caller): the SYN is dropped, on every attempt, when R is set, ``src`` is in none of R, and either the NLB
has security groups (dropped at the NLB) or client IP preservation is on (dropped at the target).  A
dropped SYN is never answered: the caller retransmits until it times out, with probability 1.
``blocked`` says whether and where; the simulator (``hairpin.aws.nlb``), the closed form
(``hairpin.aws.risk``) and the checker ask it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence

from hairpin.errors import InputError
from hairpin.kube.apivalidation import SOURCE_RANGES_ANNOTATION, go_network, go_trim_space, parse_cidr_sloppy

__all__ = ["SOURCE_RANGES_ANNOTATION", "blocked", "mapped_ranges", "parse_ranges", "source_ranges"]


def parse_ranges(values: Iterable[str], where: str = "loadBalancerSourceRanges") -> tuple[str, ...]:
    """CIDRs as normalised networks, each read as the API server, the in-tree provider and kube-proxy read it:
    trimmed (``strings.TrimSpace``), then k8s.io/utils ``ParseCIDRSloppy`` (``hairpin.kube.apivalidation``): host
    bits allowed, leading zeros of an IPv4 part read as decimal (``010.0.0.0/8`` is 10.0.0.0/8); a zone
    (``fe80::1%eth0/64``), a bare address, a netmask or an empty entry is not a CIDR.  Bad: InputError.  Each is
    written as Go's ``net.IPNet.String`` writes it (``apivalidation.go_network``): an IPv4-mapped range
    (``::ffff:10.0.0.0/104``) is the IPv4 range 10.0.0.0/8.  The in-tree provider writes exactly that string into its
    security group rules (cloud-provider-aws ``pkg/providers/v1/aws.go`` EnsureLoadBalancer: k8s.io/cloud-provider
    ``GetLoadBalancerSourceRanges``, k8s.io/utils ``ParseIPNets``, keyed by ``ipnet.String()``, then ``StringSlice``
    into ``CidrIp``), and kube-proxy from 1.30 into its rules (``cidr.String()``).  The AWS Load Balancer Controller
    does not parse them: it hands the strings to EC2 as written (model_build_managed_sg.go), so an IPv4-mapped range
    is for ``hairpin.diagnose.reach`` to doubt; the API server has refused what parses here as nothing
    (``apivalidation.source_range_refusal``)."""
    out = []
    for v in values:
        v = go_trim_space(str(v))
        net = parse_cidr_sloppy(v)
        if net is None:
            raise InputError(f"{where}: {v!r} is not a CIDR")
        out.append(str(go_network(net)))
    return tuple(out)


def mapped_ranges(values: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """(as written once trimmed, as Go reads it) of each IPv4-mapped range in ``values`` that parses
    (``apivalidation.is_ipv4_mapped``): ``::ffff:10.0.0.0/104`` is ``10.0.0.0/8``."""
    out = []
    for v in values:
        v = go_trim_space(str(v))
        net = parse_cidr_sloppy(v)
        if net is not None and go_network(net) != net:
            out.append((v, str(go_network(net))))
    return tuple(out)


def source_ranges(spec_ranges: Sequence[str], annotations: Mapping[str, str], *,
                  annotation_honoured: bool = True) -> tuple[tuple[str, ...], str]:  # fmt: skip
    """(ranges, where they came from): the spec field, else the annotation (not for EKS Auto Mode), split on ``,``
    once trimmed; an annotation with nothing but white space is no ranges (kubernetes ValidateService)."""
    if spec_ranges:
        return parse_ranges(spec_ranges), "spec.loadBalancerSourceRanges"
    raw = go_trim_space(annotations.get(SOURCE_RANGES_ANNOTATION) or "")
    if raw and annotation_honoured:
        return parse_ranges(raw.split(","), SOURCE_RANGES_ANNOTATION), SOURCE_RANGES_ANNOTATION
    return (), ""


def blocked(src: str, ranges: Sequence[str], *, nlb_security_groups: bool, preserve_client_ip: bool) -> str | None:
    """Where a connection from ``src`` is dropped by a security group ('nlb' or 'target'), or None."""
    if not ranges:
        return None
    addr = ipaddress.ip_address(src)
    if any(addr in ipaddress.ip_network(r) for r in ranges):
        return None
    if nlb_security_groups:
        return "nlb"
    if preserve_client_ip:
        return "target"
    return None
