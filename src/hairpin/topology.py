"""The network a scenario describes, as plain data: namespaces, links, addresses, routes, ip rules,
neighbours, sysctls and the iptables text each namespace loads.

This is the Mininet idea: the topology is data, built elsewhere.  ``hairpin.backends.sim`` turns it into
simulated Linux hosts; ``hairpin.backends.lab`` turns it into real network namespaces with pyroute2 and
iptables-restore.  Neither adds wiring of its own, which is what lets the two agree.

What is modelled (facts from the AWS VPC CNI, amazon-vpc-cni-k8s cmd/routed-eni-cni-plugin/driver and
pkg/networkutils; see docs/model.md):
- ``vpc``: the VPC router.  One link per node ENI (eth0).  It owns each subnet's router address
  (subnet base + 1, AWS reserves it for the VPC router) on the links of the nodes in that subnet, answers
  ARP for the rest of the subnet (proxy ARP stands in for the VPC fabric), and routes every node IP and
  every pod IP (a secondary IP of the node's ENI) to that node's link.  NLB node addresses are its own.
- a node: eth0 with its primary IP in its subnet, default route via the subnet router, one host-side veth
  (``eni`` + 11 hex of sha1(namespace.pod)) per pod with a /32 route in the main table, the CNI's ip rules
  and the node's iptables (kube-proxy + CNI, ``hairpin.kube.node_iptables``); in kube-proxy's IPVS
  mode also the dummy ``kube-ipvs0`` holding every ClusterIP and kube-proxy's ipsets.
- a pod: eth0 with its /32, ``169.254.1.1`` as on-link gateway with a permanent neighbour entry for the
  host veth's MAC (the CNI writes it that way), the scenario's kernel TCP settings.

IPv6 (an IPv6 scenario, the CNI's IPv6 mode; amazon-vpc-cni-k8s v1.23.0):
- ``vpc``: the subnet router answers at ``fe80:ec2::1`` on every link (pkg/networkutils/network.go
  ``GetIPv6Gateway``: "On AWS/VPC, the subnet gateway can always be reached at FE80:EC2::1"); it routes each node
  address (/128) and each node's delegated /80 prefix (or, without one, each pod address) to the node's link.
- a node: eth0 with its address in its subnet's /64 (the kernel adds the /64 prefix route itself:
  ``hairpin.routing`` add_address), default route via ``fe80:ec2::1``, a /128 route per pod on its host veth and
  the CNI's ip rules in the IPv6 family; ``net.ipv6.conf.all.forwarding=1`` (the aws-node init container,
  cmd/aws-vpc-cni-init ``net/ipv6/conf/all/forwarding``).  The node answers no solicitation for others (no proxy
  NDP on the node, where IPv4 has it answer ARP): the VPC router forwards by route, and
  knows which ENI holds each delegated prefix; the vpc namespace says so with a permanent neighbour entry per pod
  address (the pod's address -> the node's eth0 MAC on the node's link).
  A node's subnet /64 is on-link, and the delegated /80s lie inside it, so a node asks for a neighbour in its
  subnet (another node, another node's pod) on eth0: the vpc namespace answers those solicitations on each node's
  link (proxy NDP, ``proxy_ndp=1`` and one entry per address), as it answers ARP for the rest of the subnet in
  IPv4, and forwards by route.
- a pod: eth0 with its /128, ``fe80::1`` as on-link gateway (driver.go: ``CalculatePodIPv6GatewayIP(0)``; a
  ``fe80::1/128`` link route and ``default via fe80::1``) with a permanent neighbour entry for the host veth's
  MAC, as in IPv4.
Not modelled: the link-local address every IPv6 interface also gets (nothing here sends from one), DAD, router
advertisements.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass, field

from hairpin.scenario import Pod, Scenario

__all__ = ["Interface", "Namespace", "Neighbour", "PolicyRule", "Route", "Topology", "build", "mac_for"]

MAIN = 254
LOCAL = 255
POD_GATEWAY = "169.254.1.1"
#: the pods' IPv6 gateway (driver.go CalculatePodIPv6GatewayIP(0)) and the VPC's (network.go GetIPv6Gateway)
POD_GATEWAY6 = "fe80::1"
VPC_GATEWAY6 = "fe80:ec2::1"


@dataclass(frozen=True)
class Interface:
    """A veth end in a namespace.  ``peer`` is (namespace, interface) at the other end."""

    name: str
    mac: str
    addresses: tuple[str, ...] = ()  # CIDR, e.g. "192.168.2.3/19"
    peer: tuple[str, str] | None = None


@dataclass(frozen=True)
class Route:
    dst: str  # CIDR; "0.0.0.0/0" is the default route
    dev: str
    via: str | None = None
    table: int = MAIN
    scope: str = "global"  # global | link | host
    src: str | None = None
    onlink: bool = False

    @property
    def network(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
        return ipaddress.ip_network(self.dst)


@dataclass(frozen=True)
class PolicyRule:
    """An ``ip rule``: match fields (None = any) and the table to look up."""

    priority: int
    table: int
    src: str | None = None
    dst: str | None = None
    fwmark: int | None = None
    fwmask: int | None = None
    iif: str | None = None
    comment: str = ""

    def __str__(self) -> str:
        """As ``ip rule show`` prints it."""
        sel = "from " + (self.src or "all")
        if self.dst:
            sel += f" to {self.dst}"
        if self.fwmark is not None:
            sel += f" fwmark {self.fwmark:#x}" + (f"/{self.fwmask:#x}" if self.fwmask is not None else "")
        if self.iif:
            sel += f" iif {self.iif}"
        table = "main" if self.table == MAIN else str(self.table)
        return f"{self.priority}:\t{sel} lookup {table}"


@dataclass(frozen=True)
class Neighbour:
    ip: str
    dev: str
    mac: str


@dataclass(frozen=True)
class Namespace:
    """One network namespace: a node, a pod, or the VPC router."""

    name: str
    role: str  # vpc | node | pod
    interfaces: tuple[Interface, ...]
    routes: tuple[Route, ...] = ()
    rules: tuple[PolicyRule, ...] = ()
    neighbours: tuple[Neighbour, ...] = ()
    sysctls: tuple[tuple[str, str], ...] = ()
    iptables: str = ""
    ipsets: str = ""  # ``ipset save`` text (kube-proxy's IPVS mode)
    node: str | None = None  # for a pod: its node; for a node: itself
    pods: tuple[str, ...] = ()  # for a node: the pods whose veths it holds (host-network pods included)
    #: IPv6 proxy NDP entries (address, interface): the addresses this namespace answers neighbour solicitations
    #: for on that interface without holding them (``ip -6 neigh add proxy``; the vpc namespace's stand-in for
    #: the VPC fabric, as proxy ARP is in IPv4)
    ndp_proxies: tuple[tuple[str, str], ...] = ()

    def interface(self, name: str) -> Interface:
        for i in self.interfaces:
            if i.name == name:
                return i
        raise KeyError(name)

    @property
    def addresses(self) -> list[str]:
        return [a.split("/")[0] for i in self.interfaces for a in i.addresses]


@dataclass(frozen=True)
class Topology:
    scenario: Scenario
    namespaces: tuple[Namespace, ...]
    links: tuple[tuple[tuple[str, str], tuple[str, str]], ...] = field(default=())

    def namespace(self, name: str) -> Namespace:
        for n in self.namespaces:
            if n.name == name:
                return n
        raise KeyError(name)


def mac_for(*parts: str) -> str:
    """A stable, locally administered unicast MAC for an interface."""
    digest = hashlib.sha1("/".join(parts).encode()).digest()
    return "02:" + ":".join(f"{b:02x}" for b in digest[:5])


def _host_veth(pod: Pod) -> str:
    from hairpin.kube import cni

    return cni.host_veth_name(pod.namespace, pod.name)


def _vpc_ifname(node: str) -> str:
    name = f"v-{node}"
    if len(name) <= 15:
        return name
    return "v-" + hashlib.sha1(node.encode()).hexdigest()[:13]


def _subnet_router(subnet: str) -> str:
    return str(ipaddress.IPv4Network(subnet).network_address + 1)


def _kernel_sysctls(s: Scenario) -> list[tuple[str, str]]:
    k = s.kernel
    out = [("net.ipv4.tcp_syn_retries", str(k.tcp_syn_retries))]  # TCP's, both families (net/ipv4/tcp_timer.c)
    if s.family == 4:
        out += [("net.ipv4.conf.all.rp_filter", "0"), ("net.ipv4.conf.default.rp_filter", "0")]
    if k.tcp_syn_linear_timeouts:
        out.append(("net.ipv4.tcp_syn_linear_timeouts", str(k.tcp_syn_linear_timeouts)))
    return out


def build(s: Scenario) -> Topology:
    """The topology of scenario ``s``."""
    if s.family == 6:
        return _build6(s)
    from hairpin.kube import cni, node_iptables

    namespaces: list[Namespace] = []
    links: list[tuple[tuple[str, str], tuple[str, str]]] = []
    vpc_ifs: list[Interface] = []
    vpc_routes: list[Route] = []
    for node in s.nodes:
        subnet = s.vpc.subnet_of(node.ip)
        if subnet is None:
            from hairpin.errors import ScenarioError

            raise ScenarioError(f"nodes.{node.name}.ip: {node.ip} is in no subnet of the VPC")
        prefix = ipaddress.IPv4Network(subnet).prefixlen
        gw = _subnet_router(subnet)
        vif = _vpc_ifname(node.name)
        vpc_ifs.append(Interface(vif, mac_for("vpc", vif), (f"{gw}/32",), (node.name, "eth0")))
        links.append((("vpc", vif), (node.name, "eth0")))
        vpc_routes.append(Route(f"{node.ip}/32", vif, scope="link"))
        ifs = [Interface("eth0", mac_for(node.name, "eth0"), (f"{node.ip}/{prefix}",), ("vpc", vif))]
        routes = [
            Route("0.0.0.0/0", "eth0", via=gw),
            Route(str(ipaddress.IPv4Network(subnet)), "eth0", scope="link", src=node.ip),
        ]
        neigh: list[Neighbour] = []
        hosted = []
        for pod in s.pods:
            if pod.node != node.name:
                continue
            hosted.append(pod.name)
            if pod.host_network:
                continue
            hv = _host_veth(pod)
            ifs.append(Interface(hv, mac_for(node.name, hv), (), (pod.name, "eth0")))
            links.append(((node.name, hv), (pod.name, "eth0")))
            routes.append(Route(f"{pod.ip}/32", hv, scope="link"))
            neigh.append(Neighbour(pod.ip, hv, mac_for(pod.name, "eth0")))
            vpc_routes.append(Route(f"{pod.ip}/32", vif, scope="link"))
            namespaces.append(_pod_namespace(s, pod, hv, 32, POD_GATEWAY, "0.0.0.0/0"))
        ipsets = ""
        if s.kube_proxy.mode == "ipvs":  # kube-proxy binds ClusterIPs, external IPs, LB VIPs to kube-ipvs0
            from hairpin.kube import ipvs

            addrs = tuple(f"{a}/32" for a in ipvs.dummy_addresses(s, node.name))
            ifs.append(Interface(ipvs.DUMMY, mac_for(node.name, ipvs.DUMMY), addrs))
            ipsets = ipvs.ipset_save(s, node.name)
        rules = tuple(cni.ip_rules(s, node.name))
        namespaces.append(
            Namespace(
                node.name,
                "node",
                tuple(ifs),
                routes=tuple(routes),
                rules=rules,
                neighbours=tuple(neigh),
                sysctls=(
                    ("net.ipv4.ip_forward", "1"),
                    ("net.ipv4.conf.eth0.proxy_arp", "1"),
                    *_kernel_sysctls(s),
                    *((("net.ipv4.conf.all.accept_local", "1"),) if s.kernel.accept_local else ()),
                ),
                iptables=node_iptables(s, node.name),
                ipsets=ipsets,
                node=node.name,
                pods=tuple(hosted),
            )
        )
    lb_addresses = sorted({addr for svc in s.services if svc.load_balancer for _, addr in svc.load_balancer.nodes})
    vpc = Namespace(
        "vpc",
        "vpc",
        (Interface("lo", "00:00:00:00:00:00", tuple(f"{a}/32" for a in lb_addresses)), *vpc_ifs),
        routes=tuple(vpc_routes),
        sysctls=(
            ("net.ipv4.ip_forward", "1"),
            ("net.ipv4.conf.all.rp_filter", "0"),
            ("net.ipv4.conf.default.rp_filter", "0"),
            *((f"net.ipv4.conf.{i.name}.proxy_arp", "1") for i in vpc_ifs),
        ),
    )
    return Topology(s, (vpc, *namespaces), tuple(links))


def _pod_namespace(s: Scenario, pod: Pod, host_veth: str, host_len: int, gateway: str, default: str) -> Namespace:
    """A pod's namespace: eth0 with its one address (/32 or /128), the on-link gateway the VPC CNI gives it
    (``POD_GATEWAY`` or ``POD_GATEWAY6``) with a permanent neighbour entry for the host veth's MAC, the default
    route through it, and the scenario's kernel TCP settings."""
    return Namespace(
        pod.name,
        "pod",
        (Interface("eth0", mac_for(pod.name, "eth0"), (f"{pod.ip}/{host_len}",), (pod.node, host_veth)),),
        routes=(Route(f"{gateway}/{host_len}", "eth0", scope="link"), Route(default, "eth0", via=gateway)),
        neighbours=(Neighbour(gateway, "eth0", mac_for(pod.node, host_veth)),),
        sysctls=tuple(_kernel_sysctls(s)),
        node=pod.node,
    )


def _build6(s: Scenario) -> Topology:
    """The topology of IPv6 scenario ``s`` (the module docstring says what differs from IPv4)."""
    from hairpin.kube import cni, node_iptables

    namespaces: list[Namespace] = []
    links: list[tuple[tuple[str, str], tuple[str, str]]] = []
    vpc_ifs: list[Interface] = []
    vpc_routes: list[Route] = []
    vpc_neigh: list[Neighbour] = []
    for node in s.nodes:
        subnet = s.vpc.subnet_of(node.ip)
        if subnet is None:
            from hairpin.errors import ScenarioError

            raise ScenarioError(f"nodes.{node.name}.ip: {node.ip} is in no subnet of the VPC")
        prefix = ipaddress.IPv6Network(subnet).prefixlen
        vif = _vpc_ifname(node.name)
        vpc_ifs.append(Interface(vif, mac_for("vpc", vif), (f"{VPC_GATEWAY6}/64",), (node.name, "eth0")))
        links.append((("vpc", vif), (node.name, "eth0")))
        vpc_routes.append(Route(f"{node.ip}/128", vif, scope="link"))
        if node.prefix:
            vpc_routes.append(Route(node.prefix, vif, scope="link"))
        ifs = [Interface("eth0", mac_for(node.name, "eth0"), (f"{node.ip}/{prefix}",), ("vpc", vif))]
        routes = [Route("::/0", "eth0", via=VPC_GATEWAY6)]
        neigh: list[Neighbour] = []
        hosted = []
        for pod in s.pods:
            if pod.node != node.name:
                continue
            hosted.append(pod.name)
            if pod.host_network:
                continue
            hv = _host_veth(pod)
            ifs.append(Interface(hv, mac_for(node.name, hv), (), (pod.name, "eth0")))
            links.append(((node.name, hv), (pod.name, "eth0")))
            routes.append(Route(f"{pod.ip}/128", hv, scope="link"))
            neigh.append(Neighbour(pod.ip, hv, mac_for(pod.name, "eth0")))
            if not node.prefix:
                vpc_routes.append(Route(f"{pod.ip}/128", vif, scope="link"))
            vpc_neigh.append(Neighbour(pod.ip, vif, mac_for(node.name, "eth0")))
            namespaces.append(_pod_namespace(s, pod, hv, 128, POD_GATEWAY6, "::/0"))
        namespaces.append(
            Namespace(
                node.name,
                "node",
                tuple(ifs),
                routes=tuple(routes),
                rules=tuple(cni.ip_rules(s, node.name)),
                neighbours=tuple(neigh),
                sysctls=(("net.ipv6.conf.all.forwarding", "1"), *_kernel_sysctls(s)),
                iptables=node_iptables(s, node.name),
                node=node.name,
                pods=tuple(hosted),
            )
        )
    lb_addresses = sorted({addr for svc in s.services if svc.load_balancer for _, addr in svc.load_balancer.nodes})
    vpc = Namespace(
        "vpc",
        "vpc",
        (Interface("lo", "00:00:00:00:00:00", tuple(f"{a}/128" for a in lb_addresses)), *vpc_ifs),
        routes=tuple(vpc_routes),
        neighbours=tuple(vpc_neigh),
        sysctls=(("net.ipv6.conf.all.forwarding", "1"), *((f"net.ipv6.conf.{i.name}.proxy_ndp", "1") for i in vpc_ifs)),
        ndp_proxies=_ndp_proxies(s),
    )
    return Topology(s, (vpc, *namespaces), tuple(links))


def _ndp_proxies(s: Scenario) -> tuple[tuple[str, str], ...]:
    """For each node's link, the vpc namespace's proxy NDP entries: every other address in the node's subnet (the
    other nodes', and the pods' of other nodes), which the node reaches on-link through its /64."""
    out: list[tuple[str, str]] = []
    for node in s.nodes:
        subnet = ipaddress.IPv6Network(s.vpc.subnet_of(node.ip) or "::/128")
        held = {p.ip for p in s.pods if p.node != node.name and not p.host_network}
        held |= {n.ip for n in s.nodes if n.name != node.name}
        out += [(a, _vpc_ifname(node.name)) for a in sorted(held) if ipaddress.IPv6Address(a) in subnet]
    return tuple(out)
