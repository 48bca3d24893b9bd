"""How ``hairpin scenario from-cluster`` writes the scenario it built: the plain data ``hairpin.scenario.from_dict``
reads, and YAML in the seed's layout with the build's notes as the header comment.

It knows the scenario file's keys, not the cluster: ``hairpin.kube.from_cluster`` builds the ``Scenario`` (and
re-exports ``scenario_to_dict`` and ``scenario_yaml``).  Only what from-cluster sets is written: the keys it leaves
at their defaults (``kube_proxy.cluster_cidr``, ``service_cidr`` and ``node_port_addresses``, a Service's
external IPs, session affinity and internal traffic policy, ``kernel.accept_local``, a node's IPv6 prefix) are left
out, so this is no general writer of any scenario.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml

from hairpin.model.scenario import Scenario
from hairpin.render.markup import shown

__all__ = ["scenario_to_dict", "scenario_yaml"]


def scenario_to_dict(s: Scenario) -> dict[str, Any]:
    """The scenario as the plain data ``hairpin.scenario.from_dict`` reads."""

    def labels(t: tuple[tuple[str, str], ...]) -> dict[str, str]:
        return dict(t)

    services = []
    for svc in s.services:
        d: dict[str, Any] = {
            "namespace": svc.namespace,
            "name": svc.name,
            "type": svc.type,
            "cluster_ip": svc.cluster_ip,
            "selector": labels(svc.selector),
            "external_traffic_policy": svc.external_traffic_policy,
            "ports": [
                {
                    "name": p.name,
                    "protocol": p.protocol,
                    "port": p.port,
                    "target_port": p.target_port,
                    "node_port": p.node_port,
                }
                for p in svc.ports
            ],
            "endpoints": list(svc.endpoints),
        }
        if svc.health_check_node_port is not None:
            d["health_check_node_port"] = svc.health_check_node_port
        if svc.load_balancer_ips:
            d["load_balancer_ips"] = list(svc.load_balancer_ips)
        if svc.load_balancer_source_ranges:
            d["load_balancer_source_ranges"] = list(svc.load_balancer_source_ranges)
        if svc.load_balancer is not None:
            lb = svc.load_balancer
            d["load_balancer"] = {
                "type": lb.type,
                "scheme": lb.scheme,
                "target_type": lb.target_type,
                "preserve_client_ip": lb.preserve_client_ip,
                "cross_zone": lb.cross_zone,
                "proxy_protocol_v2": lb.proxy_protocol_v2,
                "nodes": dict(lb.nodes),
            }
            if lb.target_node_labels:
                d["load_balancer"]["target_node_labels"] = labels(lb.target_node_labels)
            if lb.security_groups:
                d["load_balancer"]["security_groups"] = True
            if lb.source_ranges:
                d["load_balancer"]["source_ranges"] = list(lb.source_ranges)
        services.append(d)
    client: dict[str, Any] = {
        "pod": s.client.pod,
        "service": s.client.service,
        "port": s.client.port,
        "via": s.client.via,
    }
    if s.client.address:
        client["address"] = s.client.address
    return {
        "name": s.name,
        "description": s.description,
        "region": s.region,
        "vpc": {
            "cidr": s.vpc.cidr,
            "router": s.vpc.router,
            "azs": [{"name": az.name, "subnets": list(az.subnets)} for az in s.vpc.azs],
        },
        "kernel": {
            "tcp_syn_retries": s.kernel.tcp_syn_retries,
            "tcp_syn_linear_timeouts": s.kernel.tcp_syn_linear_timeouts,
        },
        "kube_proxy": {"mode": s.kube_proxy.mode, "version": s.kube_proxy.version},
        "cni": {
            "name": s.cni.name,
            "external_snat": s.cni.external_snat,
            "nat_outgoing": s.cni.nat_outgoing,
            "version": s.cni.version,
            # written only when it is not the default, so that the files of iptables nodes stay as they were
            **({"connmark_backend": s.cni.connmark_backend} if s.cni.connmark_backend != "iptables" else {}),
        },
        "nodes": [
            {"name": n.name, "ip": n.ip, "az": n.az, **({"labels": labels(n.labels)} if n.labels else {})}
            for n in s.nodes
        ],
        "pods": [
            {
                "name": p.name,
                "namespace": p.namespace,
                "ip": p.ip,
                "node": p.node,
                **({"labels": labels(p.labels)} if p.labels else {}),
                **({"host_network": True} if p.host_network else {}),
            }
            for p in s.pods
        ],
        "services": services,
        "client": client,
    }


#: what a YAML 1.1 reader takes for a line break: LF, CR, and NEL, LS and PS besides (YAML 1.2 drops the last three;
#: PyYAML, which reads the file back, keeps them: yaml/scanner.py and reader.py list '\r\n\x85\u2028\u2029').  In
#: a comment any of them would end the comment and start a line of data.
_BREAKS = str.maketrans({"\n": "\\n", "\r": "\\r", "\x85": "\\x85", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def _comment(text: str) -> str:
    """``text`` as one comment line: a line break shown as ``\\n`` (a zone label's value, a Service's name: text from
    the objects read), as are control and bidi characters (``hairpin.render.markup.shown``, the terminal's rule)."""
    return "# " + shown(text.translate(_BREAKS))


def scenario_yaml(s: Scenario, notes: Sequence[str] = ()) -> str:
    """The scenario as YAML in the seed's layout, ``notes`` as the header comment, one comment line each."""
    head = [
        _comment(f"{s.name}: built by `hairpin scenario from-cluster`; load it with `hairpin reproduce --scenario`.")
    ]
    head += [_comment(f"- {n}") for n in notes]
    body = yaml.safe_dump(scenario_to_dict(s), sort_keys=False, default_flow_style=None, width=120)
    return "\n".join(head) + "\n" + body
