"""The ruleset kube-proxy keeps on one node in nftables mode, as ``nft list table ip kube-proxy`` prints it.

``ruleset(scenario, node)`` is a pure function of the scenario.  It writes what kubernetes/kubernetes
pkg/proxy/nftables/proxier.go (``setupNFTables`` + ``syncProxyRules``, KEP-3866: alpha 1.29, beta 1.31,
GA 1.33) writes, in the text form ``nft list table`` gives back after ``nft -f`` (so the text loads
as is, and listing the loaded table gives the same text: tests/test_kube_nftables.py checks both on
the real kernel).  What it knows:

- one table ``ip kube-proxy`` (comment "rules for kube-proxy"); base chains named ``<type>-<hook>``:
  filter-{prerouting,input,forward,output} at priority ``dstnat - 10`` (filter before DNAT), and
  nat-prerouting / nat-output at ``dstnat`` (-100), nat-postrouting at ``srcnat`` (100);
- service dispatch by verdict maps: ``ip daddr . meta l4proto . th dport vmap @service-ips`` and, for
  NodePorts with nodePortAddresses unset ("all local addresses"), ``fib daddr type local ip daddr !=
  127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports`` (the ``nodeport-ips`` set exists only
  when nodePortAddresses is set: EKS leaves it unset, so the set is not written);
- per service port: ``service-<HASH>-<ns>/<name>/<proto>/<port>`` (Cluster policy) holding ONE rule
  ``numgen random mod N vmap { 0 : goto endpoint-..., ... }``: each endpoint with probability exactly
  1/N (unlike the iptables mode's statistic chain, whose probabilities are rounded to 2^-31);
  ``external-<HASH>-...`` for NodePort/LB traffic (Cluster policy: ``jump mark-for-masquerade`` then
  ``goto service-...``); ``endpoint-<HASH>-<ns>/<name>/<proto>/<port>__<ip>/<port>`` with the
  hairpin masquerade rule (``ip saddr <ep> jump mark-for-masquerade``) and ``dnat to <ep>``;
- chain-name hashing: the first 8 characters of base32(sha256(name)) then ``-`` then the name
  (``hashAndTruncate``; never truncated for DNS-label names);
- masquerade: mark bit 14 (0x4000): ``mark-for-masquerade`` ORs it in, ``masquerading`` (jumped to
  from nat-postrouting) returns unless it is set, clears it and does ``masquerade fully-random``;
- EKS's kube-proxy has no ``--cluster-cidr`` (no local-traffic detector) and masqueradeAll is false,
  so no ClusterIP masquerade rules are written (as in iptables mode, see ``hairpin.kube.proxy``).

Not written: session affinity sets, LoadBalancerSourceRanges (``firewall-ips`` stays empty), Local
policy short-circuit rules for a detector, IPv6.  Services are written in scenario order (kube-proxy
walks a Go map), endpoints in the scenario's order.
"""

from __future__ import annotations

import base64
import hashlib

from hairpin.kube import names
from hairpin.scenario import Scenario, Service, ServicePort

__all__ = ["MASQ_MARK", "TABLE", "chain_base", "endpoint_chain", "ruleset", "service_chain"]

TABLE = "kube-proxy"
MASQ_MARK = 0x4000

#: (name, type, hook, priority as ``nft list`` prints it), proxier.go ``nftablesBaseChains``: filter at
#: DNAT-10 = -110, nat at DNAT = -100 / SNAT = 100.  nft (1.0.6 here) prints the ``dstnat``/``srcnat``
#: names only on the hooks where they are defined (prerouting/postrouting) and rejects them elsewhere,
#: so input/forward/output carry the numbers.
_BASE_CHAINS = (
    ("filter-prerouting", "filter", "prerouting", "dstnat - 10"),
    ("filter-input", "filter", "input", "-110"),
    ("filter-forward", "filter", "forward", "-110"),
    ("filter-output", "filter", "output", "-110"),
    ("nat-prerouting", "nat", "prerouting", "dstnat"),
    ("nat-output", "nat", "output", "-100"),
    ("nat-postrouting", "nat", "postrouting", "srcnat"),
)

_VMAP_KEY = "type ipv4_addr . inet_proto . inet_service : verdict"
_PORT_KEY = "type inet_proto . inet_service : verdict"


def chain_base(name: str) -> str:
    """proxier.go ``hashAndTruncate``: ``base32(sha256(name))[:8] + "-" + name`` (240-char cap)."""
    digest = base64.b32encode(hashlib.sha256(name.encode()).digest()).decode()
    out = digest[:8] + "-" + name
    cap = 256 - 16
    return out if len(out) <= cap else out[: cap - 3] + "..."


def _spn_path(svc: Service, sp: ServicePort) -> str:
    return f"{svc.namespace}/{svc.name}/{sp.protocol.lower()}/{sp.name}"


def service_chain(svc: Service, sp: ServicePort, prefix: str = "service-") -> str:
    """``service-`` / ``external-`` / ``local-`` chain of one service port."""
    return prefix + chain_base(_spn_path(svc, sp))


def endpoint_chain(svc: Service, sp: ServicePort, ip: str, port: int) -> str:
    """``endpoint-<HASH>-ns/name/proto/port__ip/port``."""
    return "endpoint-" + chain_base(f"{_spn_path(svc, sp)}__{ip}/{port}")


def _chain(name: str, rules: list[str], base: tuple[str, str, str] | None = None, comment: str = "") -> list[str]:
    out = [f"\tchain {name} {{"]
    if comment:
        out.append(f'\t\tcomment "{comment}"')
    if base:
        kind, hook, prio = base
        out.append(f"\t\ttype {kind} hook {hook} priority {prio}; policy accept;")
    out += [f"\t\t{r}" for r in rules]
    out += ["\t}", ""]
    return out


def _map(name: str, key: str, comment: str, elements: list[str]) -> list[str]:
    out = [f"\tmap {name} {{", f"\t\t{key}", f'\t\tcomment "{comment}"']
    if elements:
        out.append("\t\telements = { " + ",\n\t\t\t     ".join(elements) + " }")
    out += ["\t}", ""]
    return out


def ruleset(scenario: Scenario, node: str) -> str:
    """kube-proxy's ``table ip kube-proxy`` on ``node``, exactly as ``nft list table ip kube-proxy`` prints it."""
    mark = f"0x{MASQ_MARK:08x}"
    service_ips: list[str] = []
    nodeports: list[str] = []
    no_ep_services: list[str] = []
    no_ep_nodeports: list[str] = []
    svc_chains: list[list[str]] = []
    for svc in scenario.services:
        externally = svc.type in ("NodePort", "LoadBalancer")
        local_policy = externally and svc.external_traffic_policy == "Local"
        pods = scenario.endpoints_of(svc)
        for sp in svc.ports:
            proto = sp.protocol.lower()
            eps = [(p.ip, sp.target_port, p.node == node) for p in pods]
            local = [e for e in eps if e[2]]
            cluster = service_chain(svc, sp)
            ext = service_chain(svc, sp, "external-")
            loc = service_chain(svc, sp, "local-")
            spn = names.service_port_name(svc.namespace, svc.name, sp.name)
            has_ext = bool(eps) and (not local_policy or bool(local))
            if eps:
                service_ips.append(f"{svc.cluster_ip} . {proto} . {sp.port} : goto {cluster}")
            else:
                no_ep_services.append(f'{svc.cluster_ip} . {proto} . {sp.port} comment "{spn}" : goto reject-chain')
            if externally and sp.node_port:
                if eps:
                    nodeports.append(f"{proto} . {sp.node_port} : goto {ext}")
                if not has_ext:
                    verdict = "drop" if eps else "goto reject-chain"
                    no_ep_nodeports.append(f'{proto} . {sp.node_port} comment "{spn}" : {verdict}')
            if not eps:
                continue
            for ip, port, _ in eps:
                svc_chains.append(
                    _chain(
                        endpoint_chain(svc, sp, ip, port),
                        [f"ip saddr {ip} jump mark-for-masquerade", f"meta l4proto {proto} dnat to {ip}:{port}"],
                    )
                )
            if externally:
                ext_rules = ["jump mark-for-masquerade"] if not local_policy else []
                if local_policy:
                    ext_rules += [
                        'fib saddr type local jump mark-for-masquerade comment "masquerade local traffic"',
                        f'fib saddr type local goto {cluster} comment "short-circuit local traffic"',
                    ]
                if has_ext:
                    ext_rules.append(f"goto {loc if local_policy else cluster}")
                svc_chains.append(_chain(ext, ext_rules))
            for chain, members in ((cluster, eps), (loc, local if local_policy else [])):
                if not members:
                    continue
                vm = ", ".join(
                    f"{i} : goto {endpoint_chain(svc, sp, ip, port)}" for i, (ip, port, _) in enumerate(members)
                )
                svc_chains.append(_chain(chain, [f"numgen random mod {len(members)} vmap {{ {vm} }}"]))

    lines = [f"table ip {TABLE} {{", '\tcomment "rules for kube-proxy"']
    lines += _map(
        "no-endpoint-services",
        _VMAP_KEY,
        "vmap to drop or reject packets to services with no endpoints",
        no_ep_services,
    )
    lines += _map(
        "no-endpoint-nodeports",
        _PORT_KEY,
        "vmap to drop or reject packets to service nodeports with no endpoints",
        no_ep_nodeports,
    )
    lines += _map("firewall-ips", _VMAP_KEY, "destinations that are subject to LoadBalancerSourceRanges", [])
    lines += _map("service-ips", _VMAP_KEY, "ClusterIP, ExternalIP and LoadBalancer IP traffic", service_ips)
    lines += _map("service-nodeports", _PORT_KEY, "NodePort traffic", nodeports)
    jumps = {
        "filter-prerouting": ["ct state new jump firewall-check"],
        "filter-input": ["ct state new jump endpoints-check"],
        "filter-forward": ["ct state new jump endpoints-check"],
        "filter-output": ["ct state new jump endpoints-check", "ct state new jump firewall-check"],
        "nat-prerouting": ["jump services"],
        "nat-output": ["jump services"],
        "nat-postrouting": ["jump masquerading"],
    }
    for name, kind, hook, prio in _BASE_CHAINS:
        lines += _chain(name, jumps[name], (kind, hook, prio))
    lines += _chain(
        "endpoints-check",
        [
            "ip daddr . meta l4proto . th dport vmap @no-endpoint-services",
            "fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @no-endpoint-nodeports",
        ],
    )
    lines += _chain("firewall-check", ["ip daddr . meta l4proto . th dport vmap @firewall-ips"])
    lines += _chain(
        "services",
        [
            "ip daddr . meta l4proto . th dport vmap @service-ips",
            "fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports",
        ],
    )
    lines += _chain(
        "masquerading",
        [
            f"meta mark & {mark} == 0x00000000 return",
            f"meta mark set meta mark ^ {mark}",
            "masquerade fully-random",
        ],
    )
    lines += _chain("mark-for-masquerade", [f"meta mark set meta mark | {mark}"])
    lines += _chain("reject-chain", ["reject"], comment="helper for @no-endpoint-services / @no-endpoint-nodeports")
    for c in svc_chains:
        lines += c
    lines[-1] = "}"
    return "\n".join(lines) + "\n"
