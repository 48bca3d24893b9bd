"""Scenario files: reading, validating, the built-in seed, and named workarounds.

A scenario (its dataclasses live in ``hairpin.model.scenario`` and are re-exported here) names the VPC and
its AZs and subnets, the nodes, the pods, the Services with their load balancer settings, the kube-proxy
mode and version, the kernel's TCP settings, and the client whose connections hairpin follows.  The
simulator (``hairpin.backends.sim``) and the lab (``hairpin.backends.lab``) both build their network from
it; neither adds facts of its own.

``load()`` reads YAML and keeps the line of every key; ``from_dict()`` validates, and its errors read
``FILE:LINE: key.path: what is wrong``; ``seed()`` is the built-in scenario of the seed document.  ``replace()`` from ``dataclasses`` derives variants
(``with_fix()``, from ``hairpin.fixes``, applies a named workaround).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from hairpin import reading
from hairpin.errors import InputError, ScenarioError
from hairpin.fixes import FIXES, TARGET_LABEL, with_fix
from hairpin.model.net import addr_text
from hairpin.model.scenario import (
    AZ,
    Client,
    Cni,
    Kernel,
    KubeProxy,
    LoadBalancer,
    Node,
    Pod,
    Scenario,
    Service,
    ServicePort,
    Vpc,
)
from hairpin.parsers.strict import NAMESPACE_LIMIT, name_limit
from hairpin.scenario_protocols import refuse_client_protocol

__all__ = [
    "AZ",
    "FIXES",
    "TARGET_LABEL",
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
    "with_fix",
]


# ---------------------------------------------------------------------------------------------- loading

#: An IPv4 address in dotted-quad form (no leading zeros), and a network ``address/prefix``: the same
#: patterns as ``scenarios/schema.json``.
_OCTET = r"(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = re.compile(rf"{_OCTET}(\.{_OCTET}){{3}}")
_IPV4_NET = re.compile(rf"{_OCTET}(\.{_OCTET}){{3}}/(3[0-2]|[12]?\d)")
#: An IPv6 address in hex groups (RFC 4291 2.2 forms 1 and 2: no embedded dotted quad, no zone) and a network.
_H = "[0-9a-fA-F]{1,4}"
_IPV6_TEXT = (rf"(({_H}:){{7}}{_H}|({_H}:){{1,7}}:|({_H}:){{1,6}}:{_H}|({_H}:){{1,5}}(:{_H}){{1,2}}"
              rf"|({_H}:){{1,4}}(:{_H}){{1,3}}|({_H}:){{1,3}}(:{_H}){{1,4}}|({_H}:){{1,2}}(:{_H}){{1,5}}"
              rf"|{_H}:(:{_H}){{1,6}}|:((:{_H}){{1,7}}|:))")  # fmt: skip
_IPV6 = re.compile(_IPV6_TEXT)
_IPV6_NET = re.compile(rf"{_IPV6_TEXT}/(12[0-8]|1[01]\d|[1-9]?\d)")
_PORT = (1, 65535)


def _shown(value: Any) -> str:
    """``value`` for a one-line message: its repr, shortened."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "true or false",
        dict: "a mapping",
        list: "a list",
    }
    if set(kinds) >= {int, float}:
        kinds = tuple(k for k in kinds if k is not int)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _line_of(lines: Mapping[str, int], path: str) -> int | None:
    """The line of ``path`` (``a.b[2].c``), else of the nearest enclosing key or item that has one."""
    while True:
        if path in lines:
            return lines[path]
        if not path:
            return None
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""


class _Reader:
    """Walks a mapping and raises ScenarioError naming the file, the line and the key path."""

    def __init__(self, data: Any, path: str, file: str | None, lines: Mapping[str, int],
                 family: list[tuple[int, str]] | None = None) -> None:  # fmt: skip
        self.path = path
        self.file = file
        self.lines = lines
        #: the scenario's address family and the key that set it (the first address read: vpc.cidr), shared
        self.family: list[tuple[int, str]] = family if family is not None else []
        if not isinstance(data, dict):
            raise self.error("", f"must be a mapping (got {_shown(data)})")
        self.data: dict[Any, Any] = data
        self.used: set[str] = set()

    def _key(self, key: str) -> str:
        if not key:
            return self.path
        return f"{self.path}.{key}" if self.path else key

    def error(self, key: str, message: str) -> ScenarioError:
        """The error about ``key`` of this mapping ("" for the mapping itself), at its line."""
        path = self._key(key)
        return ScenarioError(f"{path or 'scenario'}: {message}", self.file, _line_of(self.lines, path))

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ..., required: bool = False) -> Any:
        """The value of ``key``; absent or null gives ``default`` (an error when required or no default)."""
        self.used.add(key)
        value = self.data.get(key)
        if value is None:
            if required or default is ...:
                raise self.error(key, "required key missing" if key not in self.data else "required, got null")
            return default
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if int in kinds and isinstance(value, float) and value.is_integer() and float not in kinds:
            value = int(value)  # 80.0 is the integer 80, as in JSON Schema
        if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
            raise self.error(key, f"must be {_kind_name(kind)} (got {_shown(value)})")
        return value

    def name(self, key: str, kind: str, default: Any = ...) -> Any:
        """A name no longer than the API server accepts for an object of ``kind`` ("Namespace": a namespace),
        as ``hairpin check`` reads manifests (``hairpin.parsers.strict``: pods and nodes 253 characters, a
        Service and a namespace 63, from kubernetes pkg/apis/core/validation ValidatePodName, ValidateNodeName,
        ValidateServiceName, ValidateNamespaceName): a 100,000-character name would fill every report."""
        value = self.get(key, str, default=default, required=default is ...)
        limit = NAMESPACE_LIMIT if kind == "Namespace" else name_limit(kind)
        if len(value) > limit:
            what = "namespace" if kind == "Namespace" else f"name for a {kind}"
            raise self.error(key, f"{len(value):,} characters: the API server refuses a {what} longer than {limit}")
        return value

    def integer(self, key: str, default: Any = ..., lo: int = 0, hi: int | None = None) -> Any:
        """An integer from ``lo`` to ``hi`` (absent/null: ``default``)."""
        value = self.get(key, int, default=default)
        if value is None or value is default:
            return value
        if value < lo or (hi is not None and value > hi):
            bounds = f"from {lo} to {hi}" if hi is not None else f"at least {lo}"
            raise self.error(key, f"must be an integer {bounds} (got {value})")
        return value

    def sub(self, key: str, required: bool = True) -> _Reader:
        value = self.get(key, dict, required=required, default=... if required else {})
        return _Reader(value, self._key(key), self.file, self.lines, self.family)

    def items(self, key: str, required: bool = True) -> list[_Reader]:
        values = self.get(key, list, required=required, default=... if required else [])
        return [_Reader(v, f"{self._key(key)}[{i}]", self.file, self.lines, self.family) for i, v in enumerate(values)]

    def strings(self, key: str, default: Any = ...) -> Any:
        """A list of strings (absent/null: ``default``)."""
        values = self.get(key, list, default=default)
        if values is None or values is default:
            return values
        for i, v in enumerate(values):
            if not isinstance(v, str):
                raise self.error(f"{key}[{i}]", f"must be a string (got {_shown(v)})")
        return values

    def check_address(self, key: str, value: Any, network: bool = False) -> str:
        """``value`` (found at ``key``) as a normalised IPv4 or IPv6 address or network, of the scenario's one
        family (the first address read sets it; a later one of the other family is refused: dual-stack is not
        modelled)."""
        what = ("an IPv4 or IPv6 network such as 10.0.0.0/16 or 2600:1f18::/56" if network
                else "an IPv4 or IPv6 address such as 10.0.0.1 or 2600:1f18::1")  # fmt: skip
        v4, v6 = (_IPV4_NET, _IPV6_NET) if network else (_IPV4, _IPV6)
        if not isinstance(value, str) or not (v4.fullmatch(value) or v6.fullmatch(value)):
            raise self.error(key, f"must be {what} (got {_shown(value)})")
        fam = 6 if ":" in value else 4
        if not self.family:
            self.family.append((fam, f"{self._key(key)} {value}"))
        elif self.family[0][0] != fam:
            have, where = self.family[0]
            raise self.error(key, f"{value} is IPv{fam} but the scenario is IPv{have} ({where}): one address "
                                  "family per scenario (dual-stack is not modelled)")  # fmt: skip
        if network:
            try:
                return addr_text(str(ipaddress.ip_network(value)))
            except ValueError:
                raise self.error(
                    key, f"{value} has host bits set (the network is "
                         f"{addr_text(str(ipaddress.ip_network(value, strict=False)))})"
                ) from None
        return addr_text(value)

    def address(self, key: str, required: bool = True, network: bool = False) -> str:
        value = self.get(key, str, required=required, default=... if required else None)
        if value is None:
            return ""
        return self.check_address(key, value, network)

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self.get(key, str, default=default)
        if value not in choices:
            raise self.error(key, f"must be one of {', '.join(choices)} (got {_shown(value)})")
        return str(value)

    def labels(self, key: str) -> tuple[tuple[str, str], ...]:
        raw = self.get(key, dict, default={})
        for k, v in raw.items():
            if isinstance(v, (dict, list)) or v is None:
                raise self.error(f"{key}.{k}", f"must be a string, number or boolean (got {_shown(v)})")
        return tuple(sorted((str(k), str(v)) for k, v in raw.items()))

    def done(self) -> None:
        extra = sorted((str(k) for k in self.data if k not in self.used), key=str)
        if extra:
            raise self.error(extra[0], f"unknown key (known here: {', '.join(sorted(self.used))})")


def _proxy_version(r: _Reader, raw: str | float, mode: str = "iptables") -> str:
    """The version, refused here (with the file and line) when kube-proxy's layout for it is not modelled.  An
    unquoted number is taken (``1.28``), but when it names no modelled layout the error says that YAML may
    have dropped a zero (``1.30`` is read as the number 1.3)."""
    from hairpin.kube.layout import layout_for, nftables_layout_for

    version = str(raw)
    try:
        layout_for(version)
        if mode == "nftables":
            nftables_layout_for(version)
    except ScenarioError as e:
        why = e.message.removeprefix("kube_proxy.version: ")
        if not isinstance(raw, str):
            why += ' (an unquoted number: YAML reads 1.30 as 1.3; write the version in quotes, such as "1.30")'
        raise r.error("version", why) from None
    return version


def _cni_version(r: _Reader) -> str:
    """``cni.version``, refused here (with the file and line) when no modelled layout covers it."""
    from hairpin.kube.cni_layout import DEFAULT, layout_for

    version = r.get("version", (str, int, float), default=DEFAULT)
    if not isinstance(version, str):
        raise r.error("version", f"write the version as a quoted string such as \"1.20\" (got {_shown(version)}; "
                                 "YAML reads an unquoted 1.20 as the number 1.2)")  # fmt: skip
    try:
        layout_for(version)
    except ScenarioError as e:
        raise r.error("version", e.message.removeprefix("cni.version: ")) from None
    return version


def _cni_backend(r: _Reader, version: str) -> str:
    """``cni.connmark_backend``, refused here (with the file and line) for a release without the nftables form."""
    from hairpin.kube.cni_layout import BACKENDS, check_backend

    backend = r.choice("connmark_backend", BACKENDS, "iptables")
    try:
        check_backend(version, backend)
    except ScenarioError as e:
        raise r.error("connmark_backend", e.message.removeprefix("cni.connmark_backend: ")) from None
    return backend


def from_dict(data: Any, file: str | None = None, *, lines: Mapping[str, int] | None = None) -> Scenario:
    """Validate ``data`` (a parsed scenario document) and build the Scenario.

    ``lines`` maps key paths (``services[0].load_balancer.target_type``) to their line in ``file``, as
    ``load()`` finds them; errors then read ``FILE:LINE: key.path: what is wrong``.
    """
    r = _Reader(data, "", file, lines or {})
    v = r.sub("vpc")
    cidr = v.address("cidr", network=True)  # first: its family is the scenario's
    azs = []
    for a in v.items("azs"):
        subnets = a.strings("subnets")
        azs.append(AZ(a.get("name", str, required=True),
                      tuple(a.check_address(f"subnets[{i}]", s, network=True) for i, s in enumerate(subnets))))  # fmt: skip
        a.done()
    vpc = Vpc(cidr, v.address("router"), tuple(azs))
    v.done()
    k = r.sub("kernel", required=False)
    kernel = Kernel(
        k.integer("tcp_syn_retries", default=6, hi=127),
        k.integer("tcp_syn_linear_timeouts", default=0),
        k.get("accept_local", bool, default=False),
    )
    k.done()
    kp = r.sub("kube_proxy", required=False)
    proxy_mode = kp.choice("mode", ("iptables", "nftables", "ipvs"), "iptables")
    kube_proxy = KubeProxy(
        proxy_mode,
        # left out: 1.18, or in nftables mode the first release whose nftables layout is modelled (1.30)
        _proxy_version(kp, kp.get("version", (str, int, float), default="1.30" if proxy_mode == "nftables" else "1.18"),
                       proxy_mode),
        kp.address("cluster_cidr", required=False, network=True) or None,
        kp.address("service_cidr", required=False, network=True) or None,
        _node_port_addresses(kp),
    )
    kp.done()
    c = r.sub("cni", required=False)
    cni = Cni(
        c.get("name", str, default="aws-vpc-cni"),
        c.get("external_snat", bool, default=False),
        c.get("nat_outgoing", bool, default=False),
        version := _cni_version(c),
        _cni_backend(c, version),
    )
    c.done()
    az_names = {az.name for az in azs}
    nodes = []
    for n in r.items("nodes"):
        node = Node(
            n.name("name", "Node"), n.address("ip"), n.get("az", str, required=True), n.labels("labels"),
            n.address("prefix", required=False, network=True) or None,
        )  # fmt: skip
        if node.az not in az_names:
            raise n.error("az", f"unknown AZ {node.az!r} (vpc.azs: {', '.join(sorted(az_names)) or 'none'})")
        if vpc.az_of(node.ip) is None:
            raise n.error("ip", f"{node.ip} is in no subnet of the VPC")
        if node.prefix is not None:
            _check_prefix(n, node, vpc)
        n.done()
        nodes.append(node)
    node_names = {n.name for n in nodes}
    pods = []
    for p in r.items("pods"):
        pod = Pod(
            p.name("name", "Pod"),
            p.name("namespace", "Namespace", default="default"),
            p.address("ip", required=False),
            p.get("node", str, required=True),
            p.labels("labels"),
            p.get("host_network", bool, default=False),
        )
        if pod.node not in node_names:
            raise p.error("node", f"unknown node {pod.node!r}")
        if pod.host_network:
            pod = replace(pod, ip=next(x.ip for x in nodes if x.name == pod.node))
        elif not pod.ip:
            raise p.error("ip", "required key missing (unless host_network: true)")
        else:
            prefix = next(x.prefix for x in nodes if x.name == pod.node)
            if prefix is not None and ipaddress.ip_address(pod.ip) not in ipaddress.ip_network(prefix):
                raise p.error("ip", f"{pod.ip} is not in the prefix of node {pod.node} ({prefix}): the VPC CNI gives "
                                    "a node's pods addresses from its delegated prefix")  # fmt: skip
        p.done()
        pods.append(pod)
    pod_names = {p.name for p in pods}
    services = []
    for s in r.items("services"):
        ports = []
        for sp in s.items("ports"):
            port = sp.integer("port", lo=_PORT[0], hi=_PORT[1])
            ports.append(
                ServicePort(
                    sp.get("name", str, default=""),
                    sp.choice("protocol", ("TCP", "UDP"), "TCP"),
                    port,
                    sp.integer("target_port", default=port, lo=_PORT[0], hi=_PORT[1]),
                    sp.integer("node_port", default=None, lo=_PORT[0], hi=_PORT[1]),
                )
            )
            sp.done()
        lb = None
        if s.get("load_balancer", dict, default=None) is not None:  # absent or null: no load balancer
            b = s.sub("load_balancer")
            lb_nodes = dict(b.get("nodes", dict, default={}))
            for az, addr in lb_nodes.items():
                if az not in az_names:
                    raise b.error(f"nodes.{az}", f"unknown AZ (vpc.azs: {', '.join(sorted(az_names)) or 'none'})")
                # normalised, as every other address: client.address and the closed form compare the strings
                # (2A05:D018::67 and 2a05:d018:0::67 are the NLB node 2a05:d018::67)
                lb_nodes[az] = b.check_address(f"nodes.{az}", addr)
            lb = LoadBalancer(
                b.choice("type", ("nlb", "clb"), "nlb"),
                b.choice("scheme", ("internal", "internet-facing"), "internal"),
                b.choice("target_type", ("instance", "ip"), "instance"),
                b.get("preserve_client_ip", bool, default=None),
                b.get("cross_zone", bool, default=False),
                b.get("proxy_protocol_v2", bool, default=False),
                tuple((str(a), str(x)) for a, x in lb_nodes.items()),
                b.labels("target_node_labels"),
                b.get("security_groups", bool, default=False),
                tuple(
                    b.check_address(f"source_ranges[{i}]", r, network=True)
                    for i, r in enumerate(b.strings("source_ranges", default=[]))
                ),
            )
            b.done()
        selector = s.labels("selector")
        eps = s.strings("endpoints", default=None)
        if eps is None:
            sel = dict(selector)
            eps = [p.name for p in pods if sel and all(dict(p.labels).get(k) == val for k, val in sel.items())]
        for i, e in enumerate(eps):
            if e not in pod_names:
                raise s.error(f"endpoints[{i}]", f"unknown pod {e!r}")
        svc = Service(
            s.name("namespace", "Namespace", default="default"),
            s.name("name", "Service"),
            s.choice("type", ("ClusterIP", "NodePort", "LoadBalancer"), "ClusterIP"),
            s.address("cluster_ip"),
            tuple(ports),
            selector,
            tuple(eps),
            s.choice("external_traffic_policy", ("Cluster", "Local"), "Cluster"),
            s.integer("health_check_node_port", default=None, lo=_PORT[0], hi=_PORT[1]),
            lb,
            *_service_extras(s),
        )
        _proxy_features(s, svc, kube_proxy)
        s.done()
        services.append(svc)
    cl = r.sub("client")
    client = Client(
        cl.get("pod", str, required=True),
        cl.get("service", str, required=True),
        cl.integer("port", lo=_PORT[0], hi=_PORT[1]),
        cl.choice("via", ("load-balancer", "cluster-ip"), "load-balancer"),
        cl.address("address", required=False) or None,
    )
    cl.done()
    if client.pod not in pod_names:
        raise cl.error("pod", f"unknown pod {client.pod!r}")
    if client.service not in {s.key for s in services}:
        known = ", ".join(s.key for s in services) or "none"
        raise cl.error("service", f"unknown service {client.service!r} (services: {known})")
    svc_index = next(i for i, x in enumerate(services) if x.key == client.service)
    refuse_client_protocol(services[svc_index], svc_index, lambda path, why: ScenarioError(
        f"{path}: {why}", file, _line_of(lines or {}, path)))  # fmt: skip
    called = services[svc_index].load_balancer
    if client.via == "load-balancer" and called is not None and not called.nodes:
        path = f"services[{svc_index}].load_balancer.nodes"
        raise ScenarioError(
            f"{path}: the client calls this load balancer: give its node address in each AZ (AZ: address)",
            file,
            _line_of(lines or {}, path),
        )
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
    from hairpin.scenario_checks import refuse_contradictions, refuse_unserved_nodes, warnings

    def at(path: str, why: str) -> ScenarioError:  # an error or warning at the line of the key ``path``
        return ScenarioError(f"{path}: {why}", file, _line_of(lines or {}, path))

    for check in (refuse_contradictions, refuse_unserved_nodes):
        check(scenario, at)
    if scenario.family == 6:
        from hairpin.scenario6 import refuse_misplaced_pod, refuse_unmodelled

        for refuse in (refuse_unmodelled, refuse_misplaced_pod):
            refuse(scenario, at)
    found = warnings(scenario, at)
    return replace(scenario, warnings=found) if found else scenario


def _check_prefix(n: _Reader, node: Node, vpc: Vpc) -> None:
    """nodes[].prefix: an IPv6 /80 inside the node's subnet (amazon-vpc-cni-k8s README, "IPv6 support": with
    ENABLE_IPv6 each node's primary ENI gets a /80 prefix, prefix delegation; pods take addresses from it)."""
    assert node.prefix is not None
    net = ipaddress.ip_network(node.prefix)
    if net.version != 6 or net.prefixlen != 80:
        raise n.error("prefix", f"must be the IPv6 /80 the VPC CNI delegated to the node (got {node.prefix})")
    subnet = vpc.subnet_of(node.ip)
    if subnet is None or not net.subnet_of(ipaddress.IPv6Network(subnet)):
        raise n.error("prefix", f"{node.prefix} is not in the node's subnet ({subnet})")


def _node_port_addresses(kp: _Reader) -> tuple[str, ...] | None:
    """kube_proxy.node_port_addresses: "primary" or a list of CIDRs (absent/null: the mode's default)."""
    value = kp.get("node_port_addresses", (str, list), default=None)
    if value is None:
        return None
    if value == "primary":
        return ("primary",)
    if isinstance(value, str):
        raise kp.error("node_port_addresses", f"must be \"primary\" or a list of CIDRs (got {_shown(value)})")
    values = kp.strings("node_port_addresses")
    return tuple(kp.check_address(f"node_port_addresses[{i}]", v, network=True) for i, v in enumerate(values))


def _service_extras(s: _Reader) -> tuple[Any, ...]:
    """externalIPs, load-balancer IPs, loadBalancerSourceRanges, session affinity, internalTrafficPolicy."""
    def addresses(key: str, network: bool = False) -> tuple[str, ...]:
        values = s.strings(key, default=[]) or []
        return tuple(s.check_address(f"{key}[{i}]", v.strip(), network=network) for i, v in enumerate(values))

    return (
        addresses("external_ips"),
        addresses("load_balancer_ips"),
        addresses("load_balancer_source_ranges", network=True),
        s.choice("session_affinity", ("None", "ClientIP"), "None"),
        s.integer("session_affinity_timeout", default=10800, lo=1, hi=86400),
        s.choice("internal_traffic_policy", ("Cluster", "Local"), "Cluster"),
    )


def _proxy_features(s: _Reader, svc: Service, kp: KubeProxy) -> None:
    """Refuse, with the key's line, a Service feature hairpin does not write for this kube-proxy mode/version."""
    from hairpin.kube.layout import unsupported

    for key, value in (("external_ips", svc.external_ips), ("load_balancer_ips", svc.load_balancer_ips),
                       ("load_balancer_source_ranges", svc.load_balancer_source_ranges),
                       ("session_affinity", svc.session_affinity != "None"),
                       ("internal_traffic_policy", svc.internal_traffic_policy != "Cluster")):  # fmt: skip
        why = unsupported(kp.mode, kp.version, key) if value else None
        if why:
            raise s.error(key, why)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def parse(text: str, file: str) -> tuple[Any, dict[str, int]]:
    """Parse YAML ``text``: the data, and the line (1-based) of every key path and list item in it.

    The path of a mapping value is the line of its key; a list item's is the line it starts on; the
    document's own (``""``) is its first line.  Syntax errors raise one-line ScenarioErrors.
    """
    bad = reading.check_yaml_events(text, file, yaml.SafeLoader)  # depth, aliases: before composing
    if bad is not None:
        raise ScenarioError(bad[1].message, file, bad[1].line)
    loader = None
    try:
        loader = yaml.SafeLoader(text)
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        err = reading.yaml_error(exc, file, text)
        raise ScenarioError(err.message, file, err.line) from None
    except ValueError as exc:  # an integer too long for Python to read
        if not reading.long_number(exc):
            raise
        err = reading.number_error(text, file, "YAML")
        raise ScenarioError(err.message, file, err.line) from None
    finally:
        if loader is not None:
            loader.dispose()
    lines: dict[str, int] = {}
    if root is None:
        return data, lines

    def walk(node: yaml.Node, path: str, line: int) -> None:
        lines.setdefault(path, line)
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key, value in node.value:
                name = str(key.value) if isinstance(key, yaml.ScalarNode) else "?"
                at = key.start_mark.line + 1
                sub = f"{path}.{name}" if path else name
                if name in seen and key.tag != "tag:yaml.org,2002:merge":
                    raise ScenarioError(f"{sub}: duplicate key (first on line {seen[name]})", file, at)
                seen[name] = at
                walk(value, sub, at)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, f"{path}[{i}]", item.start_mark.line + 1)

    walk(root, "", root.start_mark.line + 1)
    return data, lines


def load(path: str | Path) -> Scenario:
    """Read a scenario YAML file; errors read ``FILE:LINE: key.path: what is wrong``."""
    p = Path(path)
    try:
        text = reading.read_text(p)
    except InputError as exc:
        raise ScenarioError(exc.message, exc.file, exc.line) from None
    data, lines = parse(text, str(p))
    if data is None:
        raise ScenarioError(
            "empty: a scenario is a mapping with name, vpc, nodes, pods, services and client", str(p), 1
        )
    return from_dict(data, str(p), lines=lines)


def seed() -> Scenario:
    """The built-in scenario of the seed document."""
    text = resources.files("hairpin").joinpath("scenarios/seed.yaml").read_text()
    data, lines = parse(text, "seed.yaml")
    return from_dict(data, "seed.yaml", lines=lines)
