"""What a valid scenario file says that is most likely a mistake: a warning line each, naming the file, the key
and its line, given once when the file is loaded (``hairpin.scenario.from_dict`` keeps them in
``Scenario.warnings``; ``scenario validate``, ``reproduce``, ``sweep`` and ``lab`` print them on stderr).  Also
contradictions across the file's keys, errors: an address given to two holders, an internal load balancer's node
outside its AZ's subnets, a client address that is not its load balancer's (``refuse_contradictions``, called by
``from_dict``).

Contradictions within one key's reach (an unknown pod, an AZ the VPC lacks) are errors in ``hairpin.scenario``;
a warning here is a setting AWS accepts and hairpin simulates, but whose result an operator rarely wants:

- ``load_balancer.target_node_labels`` that no node carries, on instance targets: the AWS Load Balancer
  Controller registers only the nodes carrying every label (the ``aws-load-balancer-target-node-labels``
  annotation; ``hairpin.aws.nlb.targets`` does the same), so the load balancer has no target at all and every
  connection through it times out.  A label typed wrong reads the same, so it is said when the file is loaded,
  not only after a run (``hairpin.story.elsewhere``).
- ``load_balancer.target_node_labels`` on ip targets: the controller reads the annotation "for ``instance``
  target type" only (aws-load-balancer-controller docs/guide/service/annotations.md, target-node-labels);
  the targets are the endpoints' pods, on whatever node they run, so the labels change nothing, which an
  operator who set them to keep traffic off some nodes would want to know.
- a service port whose ``ns/name:port`` is longer than 128 bytes, in nftables mode before 1.37: kube-proxy
  comments its no-endpoint map elements with it whole, nft refuses longer comments, and every sync then fails on
  a node that writes such an element (1.37 cuts the comment: ``hairpin.kube.nftables.element_comment``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from hairpin.errors import ScenarioError
from hairpin.kube.layout import parse_version
from hairpin.model.scenario import Scenario

__all__ = ["refuse_contradictions", "refuse_unserved_nodes", "warnings"]


def refuse_unserved_nodes(s: Scenario, error: Callable[[str, str], ScenarioError]) -> None:
    """Raise ``error`` at ``kube_proxy.node_port_addresses`` in ipvs mode when it leaves a node's address out: the
    IPVS model serves NodePorts on every address, so the NLB's targets there would answer where kube-proxy does
    not (the iptables and nftables modes model it: ``hairpin.kube.proxy.answers_node_ports``)."""
    from hairpin.kube.proxy import nodeport_addresses

    if s.kube_proxy.mode != "ipvs" or s.kube_proxy.node_port_addresses is None:
        return
    for n in s.nodes:
        ips = nodeport_addresses(s, n.name, default_all=True)
        if ips is not None and n.ip not in ips:
            raise error("kube_proxy.node_port_addresses", f"leaves out node {n.name}'s address {n.ip}: not modelled "
                                                          "in kube-proxy's ipvs mode (iptables and nftables modes)")  # fmt: skip


def refuse_contradictions(s: Scenario, error: Callable[[str, str], ScenarioError]) -> None:
    """Raise ``error(key path, message)`` at the second of two holders of one address (normalised, so
    ``2A05:D018::A`` is ``2a05:d018::a``): a node, a pod (not on the host network, whose address is its node's), a
    cluster IP, a load balancer node or the VPC router.  In a VPC an address is one ENI's (EC2 assigns each private
    address once), a cluster IP one Service's (the API server allocates it once), and an IPv4 subnet's second
    address is the VPC router's there (AWS reserves the first four of each subnet: Amazon VPC User Guide, "Subnet
    CIDR blocks"; ``hairpin.topology`` makes it the nodes' gateway), so a file that gives one address twice
    describes no cluster, and the simulator, which delivers by address, would answer for a cluster that
    cannot exist (two nodes with one address: every connection \"sent back to the caller's own node\").  Then an
    internal load balancer's node outside its AZ's subnets, and the client's ``address`` with ``via:
    load-balancer`` that is none of its load balancer's node addresses (the DNS answer is one of them)."""
    seen: dict[str, str] = {}

    def hold(path: str, addr: str, what: str) -> None:
        first = seen.setdefault(addr, f"{path} ({what})")
        if first != f"{path} ({what})":
            raise error(path, f"{addr} is also {first}: an address belongs to one node, pod, cluster IP or load "
                              "balancer node")  # fmt: skip

    hold("vpc.router", s.vpc.router, "the VPC router")
    if s.family == 4:  # each subnet's second address is the VPC router's there (hairpin.topology: a node's gateway)
        for i, zone in enumerate(s.vpc.azs):
            for j, subnet in enumerate(zone.subnets):
                gw = str(ipaddress.IPv4Network(subnet).network_address + 1)
                if gw not in seen:  # vpc.router is most often the first subnet's
                    hold(f"vpc.azs[{i}].subnets[{j}]", gw, f"the VPC router's address in subnet {subnet}")
    for i, n in enumerate(s.nodes):
        hold(f"nodes[{i}].ip", n.ip, f"node {n.name}")
    for i, p in enumerate(s.pods):
        if not p.host_network:
            hold(f"pods[{i}].ip", p.ip, f"pod {p.namespace}/{p.name}")
    for i, svc in enumerate(s.services):
        if svc.cluster_ip:
            hold(f"services[{i}].cluster_ip", svc.cluster_ip, f"the cluster IP of {svc.namespace}/{svc.name}")
        if svc.load_balancer is not None:
            for az, addr in svc.load_balancer.nodes:
                hold(f"services[{i}].load_balancer.nodes.{az}", addr, f"the load balancer of {svc.namespace}/{svc.name}")
    for i, svc in enumerate(s.services):
        lb = svc.load_balancer
        if lb is None or lb.scheme != "internal":
            continue
        for az, addr in lb.nodes:
            # an internal load balancer's node is a network interface in a subnet of its AZ (the NLB takes one
            # private address per enabled subnet: "Network Load Balancers", Availability Zones, ELB User Guide)
            if s.vpc.az_of(addr) != az:
                where = s.vpc.az_of(addr)
                why = f"in a subnet of {where}" if where else "in no subnet of the VPC"
                raise error(f"services[{i}].load_balancer.nodes.{az}", f"{addr} is {why}: an internal load balancer's "
                                                                       f"node in {az} has an address of a subnet there")  # fmt: skip
    c, lb = s.client, s.client_service.load_balancer
    if c.via == "load-balancer" and c.address and lb is not None and c.address not in dict(lb.nodes).values():
        named = ", ".join(f"{az}: {a}" for az, a in lb.nodes)
        raise error("client.address", f"{c.address} is not a node address of the load balancer of {c.service} "
                                      f"({named}): the caller's DNS answer is one of them")  # fmt: skip


def warnings(s: Scenario, where: Callable[[str, str], ScenarioError]) -> tuple[str, ...]:
    """The warning lines of ``s`` (without ``hairpin: warning:``); ``where(path, why)`` is the error naming
    ``path``'s file and line, whose one line a warning is."""
    out: list[str] = []
    for i, svc in enumerate(s.services):
        lb = svc.load_balancer
        if lb is None or not lb.target_node_labels:
            continue
        if lb.target_type != "instance":
            why = (f"read for instance targets only: the load balancer of {svc.namespace}/{svc.name} has "
                   f"{lb.target_type} targets, the endpoints' pods on whatever node they run, so the labels "
                   "select nothing")  # fmt: skip
            out.append(where(f"services[{i}].load_balancer.target_node_labels", why).one_line())
            continue
        want = dict(lb.target_node_labels)
        if any(all(dict(n.labels).get(k) == v for k, v in want.items()) for n in s.nodes):
            continue
        asked = ", ".join(f"{k}={v}" for k, v in want.items())
        seen = sorted({f"{k}={v}" for n in s.nodes for k, v in n.labels if k in want and v != want[k]})
        near = f" (nodes carry {', '.join(seen)})" if seen else ""
        why = (f"no node carries {asked}{near}: the load balancer of {svc.namespace}/{svc.name} registers no "
               "instance target, so every connection through it times out; check the labels against nodes[].labels")  # fmt: skip
        out.append(where(f"services[{i}].load_balancer.target_node_labels", why).one_line())
    if s.kube_proxy.mode == "nftables" and parse_version(s.kube_proxy.version) < COMMENT_CUT_FROM:
        out += _long_comments(s, where)
    return tuple(out)


#: the first kube-proxy that cuts its nftables comments to what nft takes (kubernetes PR #139516, CHANGELOG-1.37.md)
COMMENT_CUT_FROM = (1, 37)


def _long_comments(s: Scenario, where: Callable[[str, str], ScenarioError]) -> list[str]:
    """A warning per service port whose ``ns/name:port`` is longer than nft takes as a comment
    (``hairpin.kube.nftables.COMMENT_MAX``): kube-proxy's nftables mode before 1.37 gives it whole to the port's
    no-endpoint map elements (a port without usable endpoints on a node: ``no-endpoint-services``,
    ``no-endpoint-nodeports``), and nft refuses the transaction."""
    from hairpin.kube.names import service_port_name
    from hairpin.kube.nftables import COMMENT_MAX

    version = "{}.{}".format(*parse_version(s.kube_proxy.version))
    out: list[str] = []
    for i, svc in enumerate(s.services):
        for j, sp in enumerate(svc.ports):
            spn = service_port_name(svc.namespace, svc.name, sp.name)
            if len(spn.encode()) <= COMMENT_MAX:
                continue
            why = (f"namespace/name:port is {len(spn.encode())} bytes, over the {COMMENT_MAX} nft takes as a comment: "
                   f"kube-proxy {version} (nftables) writes it whole on the port's no-endpoint map elements, so every "
                   "sync fails on a node writing one and no Service works there (1.37 cuts it, kubernetes PR "
                   f"#139516); hairpin writes it cut to {COMMENT_MAX} bytes, as 1.37 does")  # fmt: skip
            out.append(where(f"services[{i}].ports[{j}].name", why).one_line())
    return out
