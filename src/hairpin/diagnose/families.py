"""Address families for the security-group and source-range checks: which family an in-cluster caller reaches a
target in, its address in that family, and the ranges of that family.

Facts (checked 2026-12-01):

- A load balancer keeps the caller's address only for a caller of its target group's family: with a dualstack NLB
  an IPv6 target group sees IPv6 callers' own addresses and IPv4 callers translated, from the NLB's own address
  (``hairpin.aws.ipfamily``, the AWS Load Balancer Controller's annotation guide).  So the security group in
  front of the targets judges the callers of the target group's family by their own addresses.
- The AWS Load Balancer Controller writes each source range as a rule of its own family: an IPv4 CIDR as an
  ``IpRanges`` entry, an IPv6 one as an ``Ipv6Ranges`` entry (``pkg/service/model_build_managed_sg.go``
  buildManagedSecurityGroupIngressPermissions; ``pkg/targetgroupbinding`` for the targets' rules), so a caller of
  one family is admitted only by a range of that family.
- kube-proxy runs one proxier per family; each keeps only the source ranges, load-balancer VIPs and node address
  of its own family (``pkg/proxy/serviceport.go`` newBaseServiceInfo) and handles a Service only when it has a
  cluster IP of that family (``pkg/proxy/servicechangetracker.go``).
- The cluster's primary family (the family the API server gives a Service without ``spec.ipFamilies``): IPv6
  when every node's InternalIP is IPv6 (``ipfamily.primary_family``), or when the VPC CNI runs in IPv6 mode
  (``hairpin.kube.cni_mode``: EKS's IPv6 clusters) and no node in the input has an IPv4 InternalIP; when a node
  does, the input disagrees with itself and the family is not known.
- The VPC CNI takes its family from its own environment alone, never from the node or the cluster: ipamd reads
  ``ENABLE_IPv4`` and ``ENABLE_IPv6`` when it starts (aws/amazon-vpc-cni-k8s ``pkg/ipamd/ipamd.go`` New,
  ``isIPv4Enabled``/``isIPv6Enabled``) and sets the node up with the primary ENI's IPv4 address and the VPC's IPv4
  CIDRs when ENABLE_IPv4 is on, else its IPv6 address and IPv6 CIDRs (``initNetworkConfig``); the CNI's
  entrypoint writes the plugin configuration from ENABLE_IPv6 the same way ("enabledIPv6 is to determine if EKS
  cluster is IPv4 or IPv6 cluster", ``cmd/aws-vpc-cni/main.go`` generateJSON).  So a CNI set to one family on a
  cluster of the other gives pods addresses of the family its settings name; nothing in the CNI warns of it.
  ``cni_warnings`` says it when the input shows the cluster's family: every node's InternalIP, or the cluster IP of
  the Service default/kubernetes, which the API server takes first from its primary service range, the first range
  of ``--service-cluster-ip-range`` (kubernetes ``cmd/kube-apiserver/app/options/completion.go``
  getServiceIPAndRanges; ServiceIPRange, ``pkg/controlplane/services.go``, in later releases
  ``pkg/controlplane/apiserver/options``: "Select the first valid IP from ServiceClusterIPRange").  The
  primary family stays the nodes' when they show it: the CNI's settings do not set the Services' family.
- A pod's addresses are ``status.podIPs`` (one per family on a dual-stack cluster; ``status.podIP`` is the
  first); a host-network pod calls from its node's InternalIP of that family (a dual-stack node lists one of each
  in ``status.addresses``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from hairpin.aws import ipfamily
from hairpin.kube import cni_mode
from hairpin.kube.cluster import Cluster, KPod, KService

if TYPE_CHECKING:
    from hairpin.diagnose.finding import Finding

__all__ = ["NAMES", "PLACEHOLDER", "address", "caller_address", "cluster_primary", "cni_warnings", "family_warnings",
           "proxy_families", "ranges_of", "tg_family", "version"]  # fmt: skip

NAMES = {4: "IPv4", 6: "IPv6"}
#: shown instead of a network hairpin does not know: the VPC's CIDR of that family
PLACEHOLDER = {4: "<VPC-CIDR>", 6: "<VPC-IPv6-CIDR>"}


def version(value: str | None) -> int | None:
    """4 or 6 for an address or a network, None when it is neither."""
    try:
        return ipaddress.ip_network(value or "", strict=False).version
    except ValueError:
        return None


def address(values: Iterable[str | None], fam: int) -> str | None:
    """The first address of family ``fam`` among ``values`` (normalised), else None."""
    for v in values:
        try:
            a = ipaddress.ip_address(v or "")
        except ValueError:
            continue
        if a.version == fam:
            return str(a)
    return None


def ranges_of(ranges: Sequence[str], fam: int) -> tuple[str, ...]:
    """The networks of family ``fam`` among ``ranges`` (already normalised)."""
    return tuple(r for r in ranges if version(r) == fam)


def tg_family(tg_ip_address_type: str | None) -> int:
    """The family whose callers keep their address: 6 for an IPv6 target group, else 4 (IPv4, or undecided: the
    verdict then assumes IPv4 and a warning says so, ``hairpin.aws.ipfamily``)."""
    return 6 if tg_ip_address_type == "ipv6" else 4


def caller_address(c: Cluster, p: KPod, fam: int) -> str | None:
    """``p``'s source address in family ``fam``: its node's InternalIP of that family when it is on the host network,
    else its own (``status.podIPs``, else ``status.podIP``); None when it has none of that family."""
    if p.host_network:
        node = c.nodes.get(p.node or "")
        return address([*node.ips, node.ip], fam) if node is not None else None
    return address([*p.ips, p.ip], fam)


def proxy_families(svc: KService, primary: str | None) -> tuple[int, ...]:
    """The families kube-proxy serves ``svc`` in: those it certainly has once the API server stored it
    (``spec.ipFamilies``, with a manifest's cluster IPs' families: ``ipfamily.inferred_families``; a manifest's
    RequireDualStack gets both), else the cluster's primary family (IPv6 when
    every node is IPv6, ``ipfamily.primary_family``), else IPv4."""
    written = svc.ip_families if svc.existing else ipfamily.inferred_families(svc.ip_families, svc.cluster_ips)
    certain, _ = ipfamily.families_after_admission(written, svc.ip_family_policy, svc.existing)
    if not certain:
        certain = frozenset({primary or "IPv4"})
    return tuple(f for f in (4, 6) if NAMES[f] in certain)


def cluster_primary(c: Cluster) -> tuple[str | None, str, str | None]:
    """(the cluster's primary family or None for IPv4 as assumed, what showed it, why it is not known although the
    input hints at IPv6) from the nodes' InternalIPs and the VPC CNI's mode."""
    nodes = ipfamily.primary_family(n.ip for n in c.nodes.values())
    if nodes is not None:
        return nodes, "", None
    cni = c.seen.cni
    if cni.split is not None and cni.any_ipv6:
        # some aws-node pod (or the DaemonSet's template) says IPv6 and another does not: no one pod's reading is the
        # cluster's, so it is no evidence either way (cni_warnings names the pods)
        return None, "", (f"{cni.split}: hairpin cannot tell the cluster's primary family, the family the API server "
                          "gives a Service without spec.ipFamilies; taken as IPv4")  # fmt: skip
    mode = cni.mode
    if mode is None or not mode.ipv6:
        return None, "", None
    if mode.refused is not None:
        return None, "", (f"the VPC CNI is set to IPv6 mode ({mode.where}), but ipamd refuses its settings (\"{mode.refused}\", "
                          "pkg/ipamd/ipamd.go isConfigValid) and does not start: hairpin cannot tell the cluster's "
                          "primary family, the family the API server gives a Service without spec.ipFamilies; taken "
                          "as IPv4")  # fmt: skip
    v4 = next((n for n in c.nodes.values() if n.ip and ":" not in n.ip), None)
    if v4 is None:
        return "IPv6", f"the VPC CNI runs in IPv6 mode, {mode.where}: an IPv6 cluster", None
    return None, "", (f"the VPC CNI runs in IPv6 mode ({mode.where}), but node {v4.name}'s InternalIP is IPv4 "
                      f"({v4.ip}): hairpin cannot tell the cluster's primary family, the family the API server gives "
                      "a Service without spec.ipFamilies; taken as IPv4")  # fmt: skip


def family_warnings(findings: Sequence[Finding], doubt: str | None) -> list[str]:
    """``doubt`` (``cluster_primary``'s third value: why the cluster's primary family is not known), which
    ``hairpin.aws.ipfamily.apply`` gives each manifest without ``spec.ipFamilies``, lifted out of every finding that
    carries it and said once, naming the first of them and counting the others; nothing when none carries it.  The
    line is the cluster's, the same for every such Service: a cluster of 10,000 of them says it once."""
    if doubt is None:
        return []
    carried = [f for f in findings if doubt in f.warnings]
    for f in carried:
        f.warnings = [w for w in f.warnings if w != doubt]
    if not carried:
        return []
    first = f"{carried[0].namespace}/{carried[0].name}"
    if len(carried) == 1:
        return [f"{doubt}, for the Service {first}, a manifest without spec.ipFamilies"]
    return [f"{doubt}, for {len(carried)} Services, manifests without spec.ipFamilies ({first} first)"]


def _kubernetes_service(c: Cluster) -> tuple[int, str] | None:
    """(family, cluster IP) of the Service default/kubernetes read from the cluster: the first address of the API
    server's primary service range, so of the cluster's primary family."""
    svc = next((s for s in c.services if s.existing and s.namespace == "default" and s.name == "kubernetes"), None)
    if svc is None or not svc.cluster_ips:
        return None
    fam = version(svc.cluster_ips[0])
    return (fam, svc.cluster_ips[0]) if fam is not None else None


def cni_warnings(c: Cluster) -> tuple[str, ...]:
    """The report's warnings on the VPC CNI's settings: the aws-node sources that differ (``cni_mode.cni_settings``),
    and a family that does not match the one the nodes or the Service default/kubernetes show."""
    cni = c.seen.cni
    out = list(cni.warnings)
    mode = cni.mode
    if mode is None or mode.refused is not None:
        return tuple(out)  # no mode, or one ipamd refuses (it does not start: cluster_primary says so)
    want = 6 if mode.ipv6 else 4
    shown: str | None = None
    api = _kubernetes_service(c)
    if api is not None and api[0] != want:
        shown = f"the Service default/kubernetes has the cluster IP {api[1]}, the first of the cluster's primary range"
    if shown is None and mode.ipv6:
        v4 = next((n for n in c.nodes.values() if n.ip and version(n.ip) == 4), None)
        if v4 is not None:
            shown = f"node {v4.name}'s InternalIP is IPv4 ({v4.ip})"
    elif shown is None and ipfamily.primary_family(n.ip for n in c.nodes.values()) == "IPv6":
        first = next(iter(c.nodes.values()))
        shown = f"every node's InternalIP is IPv6 ({first.name}: {first.ip}{_and_more(len(c.nodes) - 1, 'node')})"
    if shown is not None:
        got = "IPv6" if mode.ipv6 else "IPv4"
        out.append(f"{cni_mode.SETTINGS} do not match the cluster's family: {mode.where} sets {got} mode, but {shown}; "
                   "the CNI takes its family from ENABLE_IPv4 and ENABLE_IPv6 alone (pkg/ipamd/ipamd.go "
                   f"initNetworkConfig), so its pods get {got} addresses whatever the cluster's family")  # fmt: skip
    return tuple(out)


def _and_more(count: int, what: str) -> str:
    return f", and {count} other {what}{'' if count == 1 else 's'}" if count else ""
