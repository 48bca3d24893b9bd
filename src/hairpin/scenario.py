"""A scenario: plain data describing one cluster on AWS, and nothing that runs.

A scenario names the VPC and its AZs and subnets, the nodes, the pods, the Services with their load
balancer settings, the kube-proxy mode and version, the kernel's TCP settings, and the client whose
connections hairpin follows.  The simulator (``hairpin.backends.sim``) and the lab
(``hairpin.backends.lab``) both build their network from it; neither adds facts of its own.

``load()`` reads YAML; ``from_dict()`` validates and names the offending key on error; ``seed()`` is
the built-in scenario of the seed document.  ``replace()`` from ``dataclasses`` derives variants
(``with_fix()`` applies a named workaround).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from hairpin.errors import ScenarioError

__all__ = [
    "AZ",
    "Client",
    "Cni",
    "Kernel",
    "KubeProxy",
    "LoadBalancer",
    "Node",
    "Pod",
    "Scenario",
    "Service",
    "ServicePort",
    "Vpc",
    "from_dict",
    "load",
    "seed",
]


@dataclass(frozen=True)
class AZ:
    name: str
    subnets: tuple[str, ...]


@dataclass(frozen=True)
class Vpc:
    cidr: str
    router: str
    azs: tuple[AZ, ...]

    def az_of(self, address: str) -> str | None:
        """The AZ whose subnet holds ``address``."""
        a = ipaddress.IPv4Address(address)
        for az in self.azs:
            for subnet in az.subnets:
                if a in ipaddress.IPv4Network(subnet):
                    return az.name
        return None

    def subnet_of(self, address: str) -> str | None:
        a = ipaddress.IPv4Address(address)
        for az in self.azs:
            for subnet in az.subnets:
                if a in ipaddress.IPv4Network(subnet):
                    return subnet
        return None


@dataclass(frozen=True)
class Kernel:
    """The TCP settings of every namespace (Linux defaults; 6.5+ defaults linear_timeouts to 4)."""

    tcp_syn_retries: int = 6
    tcp_syn_linear_timeouts: int = 0
    accept_local: bool = False


@dataclass(frozen=True)
class KubeProxy:
    mode: str = "iptables"  # iptables | nftables | ipvs
    version: str = "1.18"


@dataclass(frozen=True)
class Cni:
    name: str = "aws-vpc-cni"
    external_snat: bool = False  # AWS_VPC_K8S_CNI_EXTERNALSNAT
    #: Pod traffic to addresses outside the cluster's pods leaves masqueraded to the node's address, as
    #: overlay CNIs do (Calico IPPool natOutgoing, Cilium masquerading); the AWS VPC CNI does not for
    #: destinations inside the VPC.  Such pods call the NLB like the node itself does.
    nat_outgoing: bool = False


@dataclass(frozen=True)
class Node:
    name: str
    ip: str
    az: str
    labels: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Pod:
    name: str
    namespace: str
    ip: str
    node: str
    labels: tuple[tuple[str, str], ...] = ()
    host_network: bool = False

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class ServicePort:
    name: str
    protocol: str
    port: int
    target_port: int
    node_port: int | None


@dataclass(frozen=True)
class LoadBalancer:
    """The Service's load balancer, as the AWS Load Balancer Controller would provision it.

    ``preserve_client_ip`` None means the controller's default for the target type: on for
    ``instance`` targets, off for ``ip`` targets with TCP (target group attribute
    ``preserve_client_ip.enabled``; AWS docs, "Target groups for your Network Load Balancers").
    """

    type: str = "nlb"  # nlb | clb
    scheme: str = "internal"  # internal | internet-facing
    target_type: str = "instance"  # instance | ip
    preserve_client_ip: bool | None = None
    cross_zone: bool = False
    proxy_protocol_v2: bool = False
    nodes: tuple[tuple[str, str], ...] = ()  # (az, address) of each NLB node
    target_node_labels: tuple[tuple[str, str], ...] = ()

    @property
    def preserves_client_ip(self) -> bool:
        if self.preserve_client_ip is not None:
            return self.preserve_client_ip
        return self.target_type == "instance"

    def node_in(self, az: str) -> str | None:
        return dict(self.nodes).get(az)


@dataclass(frozen=True)
class Service:
    namespace: str
    name: str
    type: str
    cluster_ip: str
    ports: tuple[ServicePort, ...]
    selector: tuple[tuple[str, str], ...] = ()
    endpoints: tuple[str, ...] = ()  # pod names, in the order kube-proxy writes them
    external_traffic_policy: str = "Cluster"
    health_check_node_port: int | None = None
    load_balancer: LoadBalancer | None = None

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class Client:
    pod: str
    service: str
    port: int
    via: str = "load-balancer"  # load-balancer | cluster-ip
    address: str | None = None  # NLB node address returned by DNS; None: the node in the client's AZ


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    region: str
    vpc: Vpc
    kernel: Kernel
    kube_proxy: KubeProxy
    cni: Cni
    nodes: tuple[Node, ...]
    pods: tuple[Pod, ...]
    services: tuple[Service, ...]
    client: Client
    fix: str | None = None

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    def pod(self, name: str) -> Pod:
        for p in self.pods:
            if p.name == name:
                return p
        raise KeyError(name)

    def service(self, key: str) -> Service:
        for s in self.services:
            if s.key == key:
                return s
        raise KeyError(key)

    def pods_on(self, node: str) -> list[Pod]:
        return [p for p in self.pods if p.node == node and not p.host_network]

    def endpoints_of(self, service: Service) -> list[Pod]:
        return [self.pod(name) for name in service.endpoints]

    @property
    def client_pod(self) -> Pod:
        return self.pod(self.client.pod)

    @property
    def client_service(self) -> Service:
        return self.service(self.client.service)

    def client_target_address(self) -> str:
        """The address the client connects to: its NLB node, or the ClusterIP."""
        svc = self.client_service
        if self.client.via == "cluster-ip" or svc.load_balancer is None:
            return svc.cluster_ip
        if self.client.address:
            return self.client.address
        az = self.node(self.client_pod.node).az
        addr = svc.load_balancer.node_in(az) or svc.load_balancer.nodes[0][1]
        return addr


# ---------------------------------------------------------------------------------------------- loading


class _Reader:
    """Walks a mapping and raises ScenarioError naming the key path and the file."""

    def __init__(self, data: Any, path: str, file: str | None) -> None:
        if not isinstance(data, dict):
            raise ScenarioError(f"{path or 'scenario'}: expected a mapping", file)
        self.data = data
        self.path = path
        self.file = file
        self.used: set[str] = set()

    def _key(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ..., required: bool = False) -> Any:
        self.used.add(key)
        if key not in self.data or self.data[key] is None:
            if required or default is ...:
                if key in self.data and default is not ...:
                    return default
                if required or default is ...:
                    raise ScenarioError(f"{self._key(key)}: required", self.file)
            return default
        value = self.data[key]
        if kind is int and isinstance(value, bool):
            raise ScenarioError(f"{self._key(key)}: expected an integer, got {value!r}", self.file)
        if not isinstance(value, kind):
            names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            raise ScenarioError(f"{self._key(key)}: expected {names}, got {value!r}", self.file)
        return value

    def sub(self, key: str, required: bool = True) -> _Reader:
        value = self.get(key, dict, required=required, default=... if required else {})
        return _Reader(value, self._key(key), self.file)

    def items(self, key: str, required: bool = True) -> list[_Reader]:
        values = self.get(key, list, required=required, default=... if required else [])
        return [_Reader(v, f"{self._key(key)}[{i}]", self.file) for i, v in enumerate(values)]

    def address(self, key: str, required: bool = True, network: bool = False) -> str:
        value = self.get(key, str, required=required, default=... if required else None)
        if value is None:
            return ""
        try:
            if network:
                return str(ipaddress.IPv4Network(value))
            return str(ipaddress.IPv4Address(value))
        except ValueError:
            what = "an IPv4 network" if network else "an IPv4 address"
            raise ScenarioError(f"{self._key(key)}: expected {what}, got {value!r}", self.file) from None

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self.get(key, str, default=default)
        if value not in choices:
            raise ScenarioError(f"{self._key(key)}: expected one of {', '.join(choices)}, got {value!r}", self.file)
        return str(value)

    def done(self) -> None:
        extra = sorted(set(self.data) - self.used)
        if extra:
            raise ScenarioError(f"{self._key(extra[0])}: unknown key", self.file)


def _labels(r: _Reader, key: str) -> tuple[tuple[str, str], ...]:
    raw = r.get(key, dict, default={})
    return tuple(sorted((str(k), str(v)) for k, v in raw.items()))


def from_dict(data: Any, file: str | None = None) -> Scenario:
    """Validate ``data`` (a parsed scenario document) and build the Scenario."""
    r = _Reader(data, "", file)
    v = r.sub("vpc")
    azs = tuple(
        AZ(a.get("name", str, required=True), tuple(str(ipaddress.IPv4Network(s)) for s in a.get("subnets", list)))
        for a in v.items("azs")
    )
    vpc = Vpc(v.address("cidr", network=True), v.address("router"), azs)
    v.done()
    k = r.sub("kernel", required=False)
    kernel = Kernel(
        k.get("tcp_syn_retries", int, default=6),
        k.get("tcp_syn_linear_timeouts", int, default=0),
        k.get("accept_local", bool, default=False),
    )
    k.done()
    kp = r.sub("kube_proxy", required=False)
    kube_proxy = KubeProxy(
        kp.choice("mode", ("iptables", "nftables", "ipvs"), "iptables"),
        str(kp.get("version", (str, float), default="1.18")),
    )
    kp.done()
    c = r.sub("cni", required=False)
    cni = Cni(
        c.get("name", str, default="aws-vpc-cni"),
        c.get("external_snat", bool, default=False),
        c.get("nat_outgoing", bool, default=False),
    )
    c.done()
    az_names = {az.name for az in azs}
    nodes = []
    for n in r.items("nodes"):
        node = Node(
            n.get("name", str, required=True), n.address("ip"), n.get("az", str, required=True), _labels(n, "labels")
        )
        if node.az not in az_names:
            raise ScenarioError(f"{n.path}.az: unknown AZ {node.az!r}", file)
        n.done()
        nodes.append(node)
    node_names = {n.name for n in nodes}
    pods = []
    for p in r.items("pods"):
        pod = Pod(
            p.get("name", str, required=True),
            p.get("namespace", str, default="default"),
            p.address("ip", required=False),
            p.get("node", str, required=True),
            _labels(p, "labels"),
            p.get("host_network", bool, default=False),
        )
        if pod.node not in node_names:
            raise ScenarioError(f"{p.path}.node: unknown node {pod.node!r}", file)
        if pod.host_network:
            pod = replace(pod, ip=next(x.ip for x in nodes if x.name == pod.node))
        elif not pod.ip:
            raise ScenarioError(f"{p.path}.ip: required", file)
        p.done()
        pods.append(pod)
    services = []
    for s in r.items("services"):
        ports = []
        for sp in s.items("ports"):
            ports.append(
                ServicePort(
                    sp.get("name", str, default=""),
                    sp.choice("protocol", ("TCP", "UDP"), "TCP"),
                    sp.get("port", int, required=True),
                    sp.get("target_port", int, default=sp.data.get("port")),
                    sp.get("node_port", int, default=None),
                )
            )
            sp.done()
        lb = None
        if "load_balancer" in s.data:
            b = s.sub("load_balancer")
            lb_nodes = b.get("nodes", dict, default={})
            for az, addr in lb_nodes.items():
                if az not in az_names:
                    raise ScenarioError(f"{b.path}.nodes.{az}: unknown AZ", file)
                try:
                    ipaddress.IPv4Address(addr)
                except ValueError:
                    raise ScenarioError(f"{b.path}.nodes.{az}: expected an IPv4 address, got {addr!r}", file) from None
            lb = LoadBalancer(
                b.choice("type", ("nlb", "clb"), "nlb"),
                b.choice("scheme", ("internal", "internet-facing"), "internal"),
                b.choice("target_type", ("instance", "ip"), "instance"),
                b.get("preserve_client_ip", bool, default=None),
                b.get("cross_zone", bool, default=False),
                b.get("proxy_protocol_v2", bool, default=False),
                tuple((str(a), str(x)) for a, x in lb_nodes.items()),
                _labels(b, "target_node_labels"),
            )
            b.done()
        selector = _labels(s, "selector")
        eps = s.get("endpoints", list, default=None)
        if eps is None:
            sel = dict(selector)
            eps = [p.name for p in pods if sel and all(dict(p.labels).get(k) == val for k, val in sel.items())]
        pod_names = {p.name for p in pods}
        for e in eps:
            if e not in pod_names:
                raise ScenarioError(f"{s.path}.endpoints: unknown pod {e!r}", file)
        svc = Service(
            s.get("namespace", str, default="default"),
            s.get("name", str, required=True),
            s.choice("type", ("ClusterIP", "NodePort", "LoadBalancer"), "ClusterIP"),
            s.address("cluster_ip"),
            tuple(ports),
            selector,
            tuple(eps),
            s.choice("external_traffic_policy", ("Cluster", "Local"), "Cluster"),
            s.get("health_check_node_port", int, default=None),
            lb,
        )
        s.done()
        services.append(svc)
    cl = r.sub("client")
    client = Client(
        cl.get("pod", str, required=True),
        cl.get("service", str, required=True),
        cl.get("port", int, required=True),
        cl.choice("via", ("load-balancer", "cluster-ip"), "load-balancer"),
        cl.address("address", required=False) or None,
    )
    cl.done()
    if client.pod not in {p.name for p in pods}:
        raise ScenarioError(f"client.pod: unknown pod {client.pod!r}", file)
    if client.service not in {s.key for s in services}:
        raise ScenarioError(f"client.service: unknown service {client.service!r}", file)
    scenario = Scenario(
        r.get("name", str, required=True),
        str(r.get("description", str, default="")).strip(),
        r.get("region", str, default="us-east-1"),
        vpc,
        kernel,
        kube_proxy,
        cni,
        tuple(nodes),
        tuple(pods),
        tuple(services),
        client,
    )
    r.get("fix", str, default=None)
    r.done()
    return scenario


def load(path: str | Path) -> Scenario:
    """Read a scenario YAML file."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise ScenarioError(f"cannot read: {exc.strerror}", str(p)) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ScenarioError(f"not valid YAML: {getattr(exc, 'problem', exc)}", str(p), line) from None
    return from_dict(data, str(p))


def seed() -> Scenario:
    """The built-in scenario of the seed document."""
    text = resources.files("hairpin").joinpath("scenarios/seed.yaml").read_text()
    return from_dict(yaml.safe_load(text), "seed.yaml")


FIXES: dict[str, str] = {
    "ip-targets": "NLB ip targets (aws-load-balancer-nlb-target-type: ip; legacy aws-load-balancer-type: nlb-ip)",
    "no-preserve-client-ip": "preserve_client_ip.enabled=false on the instance target group",
    "cluster-ip": "in-cluster callers use the Service's ClusterIP (cluster DNS name) instead of the NLB",
    "proxy-protocol-v2": "preserve_client_ip.enabled=false plus proxy_protocol_v2.enabled=true (annotation "
    "aws-load-balancer-proxy-protocol: '*'): the client address travels in a PPv2 header",
    "target-node-labels": "register only some nodes as targets (aws-load-balancer-target-node-labels): the scenario's "
    "load_balancer.target_node_labels, else the nodes that run no caller pod",
    "anti-affinity": "pod anti-affinity keeps target pods off the caller's node (ip targets with preservation on)",
}

#: Node label ``with_fix(..., "target-node-labels")`` puts on the nodes it registers when the scenario names none.
TARGET_LABEL = ("hairpin.dev/lb-target", "true")


def with_fix(scenario: Scenario, fix: str) -> Scenario:
    """The scenario with one named workaround applied (see ``FIXES``)."""
    svc = scenario.client_service
    lb = svc.load_balancer or LoadBalancer()
    if fix == "ip-targets":
        new_svc = replace(svc, load_balancer=replace(lb, target_type="ip", preserve_client_ip=None))
    elif fix == "no-preserve-client-ip":
        new_svc = replace(svc, load_balancer=replace(lb, preserve_client_ip=False))
    elif fix == "cluster-ip":
        return replace(scenario, client=replace(scenario.client, via="cluster-ip"), fix=fix)
    elif fix == "proxy-protocol-v2":
        new_svc = replace(svc, load_balancer=replace(lb, preserve_client_ip=False, proxy_protocol_v2=True))
    elif fix == "target-node-labels":
        if lb.target_node_labels:  # the scenario says which nodes are registered: keep its choice
            return replace(scenario, fix=fix)
        callers = {scenario.client_pod.node}
        nodes = tuple(n if n.name in callers else replace(n, labels=(*n.labels, TARGET_LABEL)) for n in scenario.nodes)
        new_svc = replace(svc, load_balancer=replace(lb, target_node_labels=(TARGET_LABEL,)))
        services = tuple(new_svc if s.key == svc.key else s for s in scenario.services)
        return replace(scenario, nodes=nodes, services=services, fix=fix)
    elif fix == "anti-affinity":
        return _anti_affinity(scenario)
    else:
        raise ScenarioError(f"unknown fix {fix!r}; known: {', '.join(FIXES)}")
    services = tuple(new_svc if s.key == svc.key else s for s in scenario.services)
    return replace(scenario, services=services, fix=fix)


def _anti_affinity(scenario: Scenario) -> Scenario:
    """Target pods scheduled away from the caller's node (requiredDuringScheduling pod anti-affinity).

    Each target pod on the caller's node moves to another node of the same AZ (its VPC address stays valid
    in the AZ's subnet), else to any other node; with no other node the scenario is unchanged.
    """
    caller = scenario.client_pod.node
    svc = scenario.client_service
    az = scenario.node(caller).az
    others = [n for n in scenario.nodes if n.name != caller]
    same = [n for n in others if n.az == az] or others
    if not same:
        return replace(scenario, fix="anti-affinity")
    moved = set(svc.endpoints)
    pods = tuple(
        replace(p, node=same[i % len(same)].name) if p.name in moved and p.node == caller and not p.host_network
        else p
        for i, p in enumerate(scenario.pods)
    )  # fmt: skip
    return replace(scenario, pods=pods, fix="anti-affinity")
