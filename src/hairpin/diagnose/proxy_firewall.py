"""kube-proxy's own loadBalancerSourceRanges firewall: the in-cluster callers it drops, every time.

Facts (kubernetes/kubernetes):

- kube-proxy takes a Service's source ranges from ``spec.loadBalancerSourceRanges`` only (whitespace
  trimmed, kept when of the proxier's IP family), never from the annotation
  ``service.beta.kubernetes.io/load-balancer-source-ranges`` (``pkg/proxy/serviceport.go``,
  newBaseServiceInfo).  It enforces them on the load-balancer ingress IPs it captures
  (``hairpin.kube.ipmode``: ipMode VIP or unset, any ipMode before 1.30), and only for a service port
  with endpoints (``usesFWChain := hasEndpoints && len(LoadBalancerVIPs()) > 0 &&
  len(LoadBalancerSourceRanges()) > 0``; without endpoints the address is rejected anyway).
- iptables mode (``pkg/proxy/iptables/proxier.go``, syncProxyRules): the KUBE-SERVICES "loadbalancer IP"
  rule jumps to ``KUBE-FW-<hash>``, which sends each source range on to ``KUBE-EXT-<hash>`` and, only when
  the node's own IP is inside a range, the load-balancer IPs as sources too ("VIP-like LBs": a node's own
  request can leave with the VIP as source).  Nothing else is DNATed: from 1.25 the filter chain
  ``KUBE-PROXY-FIREWALL`` (jumped to from INPUT, OUTPUT and FORWARD for new connections) drops
  ``-d <VIP>/32 -p <proto> --dport <port>`` ("... traffic not accepted by KUBE-FW-..."); in 1.24 and
  earlier the last rule of KUBE-FW was ``-j KUBE-MARK-DROP`` and only kubelet's KUBE-FIREWALL, jumped to
  from INPUT and OUTPUT (``pkg/kubelet/kubelet_network_linux.go``), drops the mark: a pod's SYN to the VIP
  is forwarded to the load balancer (not dropped), a host-network caller's (OUTPUT) is dropped.
- nftables mode (``pkg/proxy/nftables/proxier.go``): ``firewall-check`` (before DNAT, prerouting and
  output) looks the destination up in the ``firewall-ips`` map and goes to the port's
  ``firewall-<hash>-<ns>/<name>/<proto>/<port>`` chain: ``ip saddr != { <ranges> } drop`` (the VIPs added
  to the set when the node IP is in a range).
- IPVS mode (``pkg/proxy/ipvs/proxier.go``; proxier_test.go's source-range test): the VIP:port is in the
  ipset KUBE-LOAD-BALANCER-FW; from 1.25 KUBE-PROXY-FIREWALL sends it to KUBE-SOURCE-RANGES-FIREWALL,
  which RETURNs members of KUBE-LOAD-BALANCER-SOURCE-CIDR and DROPs the rest; before 1.25 nat KUBE-LOAD-BALANCER
  sends it to nat KUBE-FIREWALL, which RETURNs the same members and marks the rest with KUBE-MARK-DROP
  (release-1.18 tree, 2018112767/kubernetes @ b3796c7b).  The VIP is bound to kube-ipvs0, a local address,
  so a pod's SYN goes to INPUT, where kubelet's KUBE-FIREWALL drops the mark: pods are dropped, unlike the
  iptables mode of that era.  A host-network caller reaches the VIP from the VIP (the local route's source)
  through OUTPUT and IPVS's LOCAL_OUT hook: before 1.25 nat KUBE-FIREWALL admits it when the VIP or the node's
  IP is in a range, else kubelet drops the mark in OUTPUT; 1.25 to 1.28 never drop it (KUBE-PROXY-FIREWALL is
  jumped to from INPUT and FORWARD only, ``iptablesJumpChain``; kubernetes issue #119656); from 1.29 filter
  OUTPUT -> KUBE-IPVS-OUT-FILTER drops it when the node's IP is outside the ranges (kubernetes PR #119791).

So a pod whose address is outside every range has each SYN to a captured address dropped on its own node,
before any load balancer: P = 1, not one time in N.  A host-network caller leaves with its node's IP as
source (the route's source address; the VIP is not a local address in iptables or nftables mode), so it is
dropped when the node's IP is outside the ranges: the "node IP in a range" rule only admits the VIPs as
sources.  The simulator (``hairpin.kube.proxy``, ``hairpin.kube.nftables``) and the closed form
(``hairpin.aws.risk``) model the same drop.

The callers are the input's pods (``status.podIPs``, else ``status.podIP``; a host-network pod calls from
its node's InternalIP); without pods, the nodes' ``spec.podCIDRs`` say where pods take their addresses;
with neither, hairpin cannot tell and says so as a warning instead of asserting the drop.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from hairpin.aws.security_groups import mapped_ranges, parse_ranges
from hairpin.diagnose import families
from hairpin.diagnose.finding import Finding, Fix, PortVerdict
from hairpin.errors import InputError
from hairpin.kube import ipmode, names
from hairpin.kube.cluster import Cluster, KPod, KService
from hairpin.kube.nftables import chain_base

__all__ = ["ProxyDrop", "apply", "assess", "rule_for"]

#: the first kube-proxy minor whose iptables (and IPVS) mode drops in the filter chain KUBE-PROXY-FIREWALL
PROXY_FIREWALL_FROM = 25
#: the first kube-proxy minor whose IPVS mode drops a node's own connections to a VIP outside its ranges
#: (filter OUTPUT -> KUBE-IPVS-OUT-FILTER, kubernetes PR #119791 for issue #119656)
IPVS_OUT_FILTER_FROM = 29
#: the first minor whose kube-proxy holds the source ranges as parsed networks and writes ``cidr.String()`` (Go's form:
#: an IPv4-mapped range as IPv4) into its rules, not the strings as written (kubernetes pull request 122630,
#: pkg/proxy/serviceport.go newBaseServiceInfo -> proxyutil.MapCIDRsByIPFamily)
CIDR_STRING_FROM = (1, 30)
#: shown instead of a network hairpin does not know
VPC_PLACEHOLDER = "<VPC-CIDR>"


@dataclass(frozen=True)
class ProxyDrop:
    """In-cluster callers kube-proxy's source-range firewall drops (or may drop: ``certain`` False)."""

    reason: str
    certain: bool  # False: the callers' addresses are unknown, a warning
    mode: str  # iptables | nftables | ipvs
    addresses: tuple[str, ...]  # the captured load-balancer IPs
    ranges: tuple[str, ...]  # spec.loadBalancerSourceRanges of the dropped families (normalised)
    rules: tuple[tuple[str, str], ...]  # (port label, what drops there)
    callers: tuple[str, ...] = ()  # namespace/name of the dropped pods (or "node <name>" from podCIDRs)
    networks: tuple[str, ...] = ()  # the networks to admit (podCIDRs, else the VPC placeholder)
    node: str | None = None  # node of the first dropped caller
    problem: str | None = None  # the ranges could not be read
    alone: bool = False  # nothing else puts the Service at risk (its SARIF result is HP003 only)
    families: tuple[str, ...] = ("IPv4",)  # the proxiers' families that drop (IPv4, IPv6)
    every_range: tuple[str, ...] = ()  # every range of the spec, both families (the patch keeps them all)

    def patch(self, svc: KService) -> str:
        body = json.dumps({"spec": {"loadBalancerSourceRanges": [*(self.every_range or self.ranges), *self.networks]}})
        return f"kubectl patch service {svc.kubectl_ns}{svc.name} --type merge -p '{body}'"

    def to_json(self) -> dict[str, Any]:
        return {"reason": self.reason, "certain": self.certain, "mode": self.mode, "addresses": list(self.addresses),
                "source_ranges": list(self.ranges), "rules": [{"port": p, "rule": r} for p, r in self.rules],
                "callers": list(self.callers), "admit": list(self.networks), "families": list(self.families)}  # fmt: skip


def _port_name(p: dict[str, Any]) -> str:
    return str(p.get("name") or "")


def rule_for(svc: KService, p: dict[str, Any], mode: str, version: tuple[int, int] | None, vip: str,
             ranges: Sequence[str]) -> str:  # fmt: skip
    """What drops a caller outside ``ranges`` at ``vip`` on Service port ``p``, in kube-proxy's own names.
    ``version``: the oldest kube-proxy (major, minor); None: assumed current.  An IPv6 ``vip``: the IPv6 proxier's
    rule (ip6tables with /128 addresses; nftables table ip6 with ``ip6 saddr``: ``ipX`` in pkg/proxy/nftables)."""
    text = _rule_for(svc, p, mode, version, vip, ranges)
    if families.version(vip) != 6:
        return text
    if mode == "nftables":
        return text.replace("(from firewall-check)", "(table ip6 kube-proxy, from firewall-check)").replace(
            ": ip saddr != ", ": ip6 saddr != ")
    return "ip6tables: " + text.replace(f"{vip}/32", f"{vip}/128")


def _rule_for(svc: KService, p: dict[str, Any], mode: str, version: tuple[int, int] | None, vip: str,
              ranges: Sequence[str]) -> str:  # fmt: skip
    proto = str(p.get("protocol") or "TCP").lower()
    port = p.get("port")
    minor = version[1] if version is not None and version[0] == 1 else None
    if mode == "nftables":
        chain = "firewall-" + chain_base(f"{svc.namespace}/{svc.name}/{proto}/{_port_name(p)}")
        order = sorted(ranges, key=lambda n: int(ipaddress.ip_network(n).network_address))  # as nft lists a set
        nets = order[0] if len(order) == 1 else "{ " + ", ".join(order) + " }"
        return f"nftables chain {chain} (from firewall-check): ip saddr != {nets} drop"
    if mode == "ipvs":
        pods = ("KUBE-SOURCE-RANGES-FIREWALL (from KUBE-PROXY-FIREWALL for KUBE-LOAD-BALANCER-FW members): "
                "RETURN for KUBE-LOAD-BALANCER-SOURCE-CIDR, else DROP")  # fmt: skip
        if minor is None or minor >= IPVS_OUT_FILTER_FROM:
            number = {"tcp": 6, "udp": 17, "sctp": 132}.get(proto, proto)
            return (f"{pods}; a host-network caller (source: the VIP) in filter OUTPUT -> KUBE-IPVS-OUT-FILTER: "
                    f"-s {vip}/32 -m ipvs --vproto {number} --vaddr {vip}/32 --vport {port} -j DROP")  # fmt: skip
        if minor >= PROXY_FIREWALL_FROM:
            return (f"{pods} (INPUT and FORWARD only: a host-network caller's SYN, through OUTPUT, is not dropped "
                    "before 1.29)")  # fmt: skip
        # release-1.18 pkg/proxy/ipvs/proxier.go (ipsetWithIptablesChain, writeIptablesRules), until PR #110628
        return ("nat KUBE-FIREWALL (from KUBE-LOAD-BALANCER for KUBE-LOAD-BALANCER-FW members): RETURN for "
                "KUBE-LOAD-BALANCER-SOURCE-CIDR, else -j KUBE-MARK-DROP; kubelet's KUBE-FIREWALL drops the mark in "
                "INPUT (the VIP is on kube-ipvs0, so a pod's SYN is for the node) and OUTPUT")  # fmt: skip
    if minor is None or minor >= 24:
        spn = names.service_port_name(svc.namespace, svc.name, _port_name(p))
    elif minor == 18:
        spn = names.service_port_name(svc.namespace, svc.name, _port_name(p), legacy_colon=True)
    else:  # 1.19 .. 1.23: the port name's form is not pinned down in hairpin's sources
        spn = ""
    fw = names.firewall_chain(spn, proto) if spn else "KUBE-FW-<hash>"
    if minor is None or minor >= PROXY_FIREWALL_FROM:
        return (f"{fw} admits only the ranges; KUBE-PROXY-FIREWALL drops the rest: -d {vip}/32 -p {proto} "
                f"--dport {port} -j DROP")  # fmt: skip
    return (f"{fw}: -j KUBE-MARK-DROP (kubelet's KUBE-FIREWALL, jumped to from INPUT and OUTPUT, drops the mark: a "
            "host-network caller's SYN, not a pod's, which is forwarded)")


Net = ipaddress.IPv4Network | ipaddress.IPv6Network


def _inside(addr: str, nets: Sequence[Net]) -> bool:
    a = ipaddress.ip_address(addr)
    return any(a in n for n in nets)


def _cidrs(values: Sequence[str], fam: int) -> list[Net]:
    """The networks of family ``fam`` among ``values`` (a node's spec.podCIDRs has one per family)."""
    out = []
    for v in values:
        try:
            n = ipaddress.ip_network(v, strict=False)
        except ValueError:
            continue
        if n.version == fam:
            out.append(n)
    return out


def assess(c: Cluster, svc: KService, addresses: Sequence[str], *, mode: str, mode_note: str,
           version: tuple[int, int] | None, fam: int = 4) -> ProxyDrop | None:  # fmt: skip
    """The callers kube-proxy drops at ``addresses`` (the Service's captured ingress IPs of family ``fam``), or None."""
    try:
        ranges = parse_ranges(svc.source_ranges)
    except InputError as exc:
        return ProxyDrop("", False, mode, tuple(addresses), (), (),
                         problem=f"{exc.message}: kube-proxy's source-range firewall was not checked")  # fmt: skip
    own = families.ranges_of(ranges, fam)
    if not own or not addresses:
        return None  # no range of this family: its proxier writes no firewall for these addresses (usesFWChain)
    nets = _cidrs(own, fam)
    vip = addresses[0]
    name = families.NAMES[fam]
    placeholder = families.PLACEHOLDER[fam]
    rules = tuple((f"{p.get('port')}/{p.get('protocol') or 'TCP'}", rule_for(svc, p, mode, version, vip, own))
                  for p in svc.ports)  # fmt: skip
    shown = ", ".join(own)
    at = ", ".join(addresses)
    where = (f"kube-proxy ({mode_note}) enforces spec.loadBalancerSourceRanges ({shown}) itself on the load-balancer "
             f"address(es) it captures ({at}): ")  # fmt: skip
    if fam == 6:
        where = (f"kube-proxy's IPv6 proxier ({mode_note}) enforces the IPv6 entries of spec.loadBalancerSourceRanges "
                 f"({shown}; each proxier keeps the ranges of its own family) itself on the IPv6 load-balancer "
                 f"address(es) it captures ({at}), for callers over IPv6: ")  # fmt: skip
    drop = "every SYN they send there is dropped on their own node, before any load balancer (P = 1, every time)"
    # before 1.25 the iptables mode only marks (KUBE-MARK-DROP) and kubelet's KUBE-FIREWALL drops the mark in
    # INPUT and OUTPUT (pkg/kubelet/kubelet_network_linux.go): a pod's SYN to the load balancer's address is
    # forwarded, marked, to the load balancer; only host-network callers' SYNs (OUTPUT) are dropped
    minor = version[1] if version is not None and version[0] == 1 else None
    marks_only = mode == "iptables" and minor is not None and minor < PROXY_FIREWALL_FROM
    ipvs_hosts_pass = mode == "ipvs" and minor is not None and PROXY_FIREWALL_FROM <= minor < IPVS_OUT_FILTER_FROM
    # IPVS before 1.25: a node process's source is the VIP, admitted when a range holds it (SOURCE-CIDR)
    vip_admitted = (mode == "ipvs" and minor is not None and minor < PROXY_FIREWALL_FROM
                    and all(_inside(a, nets) for a in addresses))  # fmt: skip

    def dropped(p: KPod, a: str) -> bool:
        if _inside(a, nets):
            return False
        if p.host_network:
            return not (ipvs_hosts_pass or vip_admitted)
        return not marks_only

    if ipvs_hosts_pass:
        where += ("before 1.29 it checks the ranges in INPUT and FORWARD only, so host-network callers, whose SYNs "
                  "take OUTPUT, are not dropped (kubernetes issue #119656); ")
    if marks_only:
        where += ("before 1.25 it only marks their SYNs for drop and kubelet drops the mark in INPUT and OUTPUT, so "
                  "pods' SYNs are forwarded to the load balancer and only host-network callers are dropped; ")
    # 1. the input's pods
    known = [(p, a) for p in sorted(c.pods.values(), key=lambda p: (p.namespace, p.name))
             if p.node and (a := families.caller_address(c, p, fam)) is not None]  # fmt: skip
    if known:
        out = [(p, a) for p, a in known if dropped(p, a)]
        if not out:
            return None
        pods = [(p, a) for p, a in out if not p.host_network]
        hosts = [(p, a) for p, a in out if p.host_network]
        groups: dict[str, list[str]] = {}
        for p, a in pods:
            node = c.nodes.get(p.node or "")
            cidr = next((str(n) for n in _cidrs(node.pod_cidrs if node else (), fam) if ipaddress.ip_address(a) in n),
                        None)  # fmt: skip
            groups.setdefault(cidr or placeholder, []).append(f"{p.namespace}/{p.name} ({a})")
        parts = []
        for net, who in sorted(groups.items()):
            head = f"podCIDR {net}" if net != placeholder else ("pod addresses" if fam == 4 else "pod IPv6 addresses")
            parts.append(f"{head}: {len(who)} pod(s), e.g. {', '.join(who[:3])}")
        if hosts:
            nodes = sorted({f"{p.node} ({a})" for p, a in hosts})
            parts.append(f"host-network: {len(hosts)} pod(s) calling from node address(es) {', '.join(nodes[:3])}")
        first = out[0][0]
        admit = sorted(n for n in groups if n != placeholder)
        if placeholder in groups or hosts:
            admit.append(placeholder)
        reason = (f"{where}{len(out)} of the {len(known)} in-cluster caller pod(s) of the input are outside them "
                  f"({'; '.join(parts)}): {drop}")  # fmt: skip
        return ProxyDrop(reason, True, mode, tuple(addresses), own, rules, tuple(f"{p.namespace}/{p.name}" for p, _ in out),
                         tuple(admit), first.node, families=(name,), every_range=ranges)  # fmt: skip
    if marks_only:  # pods are not dropped; without pods, host-network callers are not known either
        return None
    # 2. the nodes' pod CIDRs
    outside: list[tuple[str, str, bool]] = []  # (node, podCIDR, wholly outside)
    with_cidrs = [n for n in sorted(c.nodes.values(), key=lambda n: n.name) if _cidrs(n.pod_cidrs, fam)]
    for n in with_cidrs:
        for pod_net in _cidrs(n.pod_cidrs, fam):
            if any(pod_net.subnet_of(r) for r in nets):  # type: ignore[arg-type]  # same family
                continue
            outside.append((n.name, str(pod_net), not any(pod_net.overlaps(r) for r in nets)))
    if with_cidrs:
        if not outside:
            return None
        shown_nodes = "; ".join(f"node {node}: podCIDR {cidr}" + ("" if whole else " (partly)")
                                for node, cidr, whole in outside[:3])  # fmt: skip
        nopods = "the input has no pods" if not c.pods else f"no pod of the input has an {name} address"
        reason = (f"{where}pods take their addresses from the nodes' podCIDRs, and {len(outside)} of them are not inside "
                  f"the ranges ({shown_nodes}); {nopods}, so the callers are the pods those nodes run: "
                  f"{drop}")  # fmt: skip
        return ProxyDrop(reason, True, mode, tuple(addresses), own, rules,
                         tuple(f"node {node}" for node, _, _ in outside), tuple(sorted({x for _, x, _ in outside})),
                         outside[0][0], families=(name,), every_range=ranges)  # fmt: skip
    # 3. unknown callers: a warning, not a verdict
    node_ips = {n.name: families.address([*n.ips, n.ip], fam) for n in c.nodes.values()}
    node_out = sorted(f"{n} ({ip})" for n, ip in node_ips.items() if ip and not _inside(ip, nets)
                      and not (ipvs_hosts_pass or vip_admitted))  # fmt: skip
    hosts_note = (f"; host-network callers on node(s) {', '.join(node_out[:3])} would be dropped (their address is "
                  "outside the ranges)") if node_out else ""  # fmt: skip
    none = ("the input has no pods and no node podCIDRs" if not c.pods else f"no pod of the input has an {name} address "
            f"(status.podIPs) and no node an {name} podCIDR")  # fmt: skip
    reason = (f"{where}callers outside the ranges are dropped there every time, but {none}, so hairpin cannot tell "
              f"whether in-cluster callers are outside them{hosts_note}; give the pods (kubectl get pods -A -o yaml) to "
              "check")  # fmt: skip
    return ProxyDrop(reason, False, mode, tuple(addresses), own, rules, (), (placeholder,), families=(name,),
                     every_range=ranges)  # fmt: skip


def _mode_note(c: Cluster, version: tuple[int, int] | None) -> tuple[str, str]:
    mode = c.proxy_mode if c.proxy_mode in ("iptables", "nftables", "ipvs") else "iptables"
    said = f"{mode} mode" if c.proxy_mode == mode else f"{mode} mode assumed"
    ver = f"{version[0]}.{version[1]}" if version is not None else "version unknown, assumed current"
    return mode, f"{said}, {ver}"


def _fixes(svc: KService, d: ProxyDrop) -> tuple[Fix, Fix]:
    cost = ""
    if VPC_PLACEHOLDER in d.networks:
        cost = ("replace <VPC-CIDR> with the network the callers take their addresses from (the VPC CIDR with the "
                "AWS VPC CNI, which also holds the nodes; the pod CIDR with an overlay CNI); ")  # fmt: skip
    if families.PLACEHOLDER[6] in d.networks:
        cost += ("replace <VPC-IPv6-CIDR> with the IPv6 network the callers take their IPv6 addresses from (the VPC's "
                 "IPv6 CIDR with the AWS VPC CNI); ")  # fmt: skip
    cost += ("every address in the added networks can then reach the Service at its load-balancer addresses; the AWS "
             "controllers write the same ranges into the load balancer's security group rules")  # fmt: skip
    sr = Fix("source-ranges", f"admit the in-cluster callers' network(s) in spec.loadBalancerSourceRanges: {d.patch(svc)}",
             cost)  # fmt: skip
    port = svc.ports[0].get("port") if svc.ports else None
    dns = f"{svc.name}.{svc.dns_namespace}.svc.cluster.local" + (f":{port}" if port else "")
    cip = Fix("cluster-ip",
              f"point in-cluster callers at {dns} (the ClusterIP) instead of the load balancer's addresses: kube-proxy "
              "applies the source ranges only to the load-balancer IPs",
              "every in-cluster caller's configuration changes; the load balancer and its source ranges stay as they are")  # fmt: skip
    return sr, cip


def _merge(ds: Sequence[ProxyDrop]) -> ProxyDrop:
    """One drop for the Service from its proxiers' (IPv4 first): the reasons joined, everything else side by side."""
    if len(ds) == 1:
        return ds[0]
    return dataclasses.replace(
        ds[0], reason="; ".join(d.reason for d in ds), addresses=tuple(a for d in ds for a in d.addresses),
        ranges=tuple(r for d in ds for r in d.ranges), rules=tuple(r for d in ds for r in d.rules),
        callers=tuple(dict.fromkeys(x for d in ds for x in d.callers)),
        networks=tuple(dict.fromkeys(n for d in ds for n in d.networks)),
        families=tuple(x for d in ds for x in d.families))  # fmt: skip


def apply(c: Cluster, svc: KService, f: Finding, *, kube_proxy: tuple[int, int] | None, eps_known: bool,
          azs: tuple[str, ...] | None, primary: str | None = None) -> None:  # fmt: skip
    """Add kube-proxy's source-range drop to ``f`` (a LoadBalancer Service's finding): a second failure with
    P = 1 when every load-balancer address is captured, a warning when the callers are unknown.  ``azs``: the
    AZs with nodes (the NLB's addresses, one per AZ and family), None when the input has no nodes.  Each family the
    Service has (``families.proxy_families``; ``primary``: the cluster's primary family) is its own proxier, with its
    own captured addresses, ranges and callers."""
    cap = ipmode.capture(svc.ingress, kube_proxy)
    if not cap.captured or not svc.source_ranges:
        return
    if eps_known and not c.endpoints_of(svc):
        return  # no endpoints: no firewall chain, kube-proxy rejects every call to the address
    mode, note = _mode_note(c, kube_proxy)
    mapped = mapped_ranges(svc.source_ranges)
    if mapped and kube_proxy is not None and kube_proxy < CIDR_STRING_FROM:
        # IPv4 to kube-proxy's family filter (IsIPv6CIDR is false for an IPv4-mapped network) but, before 1.30, kept
        # as the string the user wrote and written so into the IPv4 proxier's rules (kubernetes pull request 122630
        # made them net.IPNet, written with cidr.String(), in 1.30); what iptables, ipset or nft make of it is not
        # modelled here
        each = ", ".join(f"{w} (from 1.30: {v4})" for w, v4 in mapped)
        f.warnings.append(f"spec.loadBalancerSourceRanges has the IPv4-mapped range(s) {each}: kube-proxy "
                          f"{kube_proxy[0]}.{kube_proxy[1]} ({mode} mode) counts them as IPv4 and writes them into its "
                          "IPv4 rules as written, which hairpin does not model, so kube-proxy's source-range firewall "
                          f"was not checked; write {', '.join(v4 for _, v4 in mapped)} instead")  # fmt: skip
        return
    certain: list[tuple[ProxyDrop, tuple[str, ...]]] = []
    unsure: list[ProxyDrop] = []
    for fam in families.proxy_families(svc, primary):
        ips = tuple(a for a in dict.fromkeys(cap.captured) if families.version(a) == fam)
        if not ips:
            continue
        d = assess(c, svc, ips, mode=mode, mode_note=note, version=kube_proxy, fam=fam)
        if d is None:
            continue
        if d.problem is not None:
            f.settings = dataclasses.replace(f.settings, problems=(*f.settings.problems, d.problem))
            return
        if d.certain:
            certain.append((d, ips))
        else:
            unsure.append(d)
    for d in unsure:
        f.warnings.append(d.reason)
    if not certain:
        if unsure:
            f.kube_proxy_drop = _merge(unsure)
        return
    # how many of the addresses callers resolve kube-proxy captures: an NLB has one per AZ with nodes (per family)
    scopes, shares = [], []
    for _, ips in certain:
        v = families.version(ips[0])
        other_lb = None if cap.hostnames else len(ips) + len([a for a in cap.proxied if families.version(a) == v])
        total = (len(azs) if azs else None) if f.settings.is_nlb else other_lb  # a load balancer known by its IPs only
        full_f = total is not None and len(ips) >= total
        share_f = Fraction(1) if full_f else (Fraction(len(ips), total) if total else None)
        shares.append(share_f)
        scopes.append("" if full_f else (f"; only connections to {', '.join(ips)} ({len(ips)} of {total} address(es)), so P "
                                         f"is at least {share_f.numerator}/{share_f.denominator}"
                                         if share_f is not None and total else f"; connections to {', '.join(ips)} only"))  # fmt: skip
    full = all(x == 1 for x in shares)
    known = [x for x in shares if x is not None]
    share = max(known) if known else None
    ips = tuple(a for _, i in certain for a in i)
    alone = not f.at_risk
    f.kube_proxy_drop = d = dataclasses.replace(_merge([x for x, _ in certain]), alone=alone)
    said = "; ".join(x.reason + sc for (x, _), sc in zip(certain, scopes, strict=True))
    f.reason = f"{f.reason}; second failure: {said}" if not alone else f"{said} ({f.reason})"
    if share is not None:
        f.probability = max(f.probability or Fraction(0), share)
    f.at_risk = True
    if alone or full:
        f.worst_node = d.node
    sr, cip = _fixes(svc, d)
    if full:
        f.fixes = [sr, cip]
    else:
        rest = [x for x in f.fixes if x.name != "source-ranges"]
        f.fixes = [sr, *rest] + ([] if any(x.name == "cluster-ip" for x in rest) else [cip])
    ports = f.ports or [PortVerdict(p.get("port") if isinstance(p.get("port"), int) else None,
                                    str(p.get("protocol") or "TCP"), None, False, None, "") for p in svc.ports]  # fmt: skip
    out = []
    for pv in ports:
        rule = "; ".join(r for label, r in d.rules if label.split("/")[0] == str(pv.port))
        if not rule:
            out.append(pv)
            continue
        p = Fraction(1) if full else (max(pv.probability or Fraction(0), share) if share is not None else pv.probability)
        why = f"kube-proxy drops callers outside the source ranges at {', '.join(ips)}: {rule}"
        reason = f"{pv.reason}; second failure: {why}" if pv.at_risk else why
        out.append(dataclasses.replace(pv, at_risk=True, probability=p, reason=reason,
                                       fixes=tuple(x.name for x in f.fixes), kube_proxy_rule=rule))  # fmt: skip
    f.ports = out
