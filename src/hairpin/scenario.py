"""Scenario files: reading, validating, the built-in seed, and named workarounds.

A scenario (its dataclasses live in ``hairpin.model.scenario`` and are re-exported here) names the VPC and
its AZs and subnets, the nodes, the pods, the Services with their load balancer settings, the kube-proxy
mode and version, the kernel's TCP settings, and the client whose connections hairpin follows.  The
simulator (``hairpin.backends.sim``) and the lab (``hairpin.backends.lab``) both build their network from
it; neither adds facts of its own.

``load()`` reads YAML and keeps the line of every key (``hairpin.scenario_reader``); ``from_dict()`` validates, and its errors read
``FILE:LINE: key.path: what is wrong``; ``seed()`` is the built-in scenario of the seed document.  ``replace()`` from ``dataclasses`` derives variants
(``with_fix()``, from ``hairpin.fixes``, applies a named workaround).
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

from hairpin import reading
from hairpin.errors import InputError, ScenarioError
from hairpin.fixes import FIXES, TARGET_LABEL, missing, with_fix
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
from hairpin.parsers.strict import LABEL_VALUE_LIMIT, NAMESPACE_LIMIT, SERVICE_PORT_NAME_LIMIT, name_limit
from hairpin.scenario_protocols import refuse_client_protocol
from hairpin.scenario_reader import (
    DESCRIPTION_LIMIT,
    PORT_RANGE,
    REGION_REFUSAL,
    SCENARIO_NAME_LIMIT,
    TEXT_LIMIT,
    ZONE_REFUSAL,
    Reader,
    line_of,
    name_refusal,
    parse,
    quoted,
)

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
    "parse",
    "seed",
    "with_fix",
]

#: the reader of one mapping of a scenario file (``hairpin.scenario_reader``), under its earlier name here
_Reader = Reader


def _proxy_version(r: Reader, raw: str | float, mode: str = "iptables") -> str:
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


def _cni_version(r: Reader) -> str:
    """``cni.version``, refused here (with the file and line) when no modelled layout covers it."""
    from hairpin.kube.cni_layout import DEFAULT, layout_for

    version = r.get("version", (str, int, float), default=DEFAULT)
    if not isinstance(version, str):
        raise r.error("version", f"write the version as a quoted string such as \"1.20\" (got {quoted(version)}; "
                                 "YAML reads an unquoted 1.20 as the number 1.2)")  # fmt: skip
    try:
        layout_for(version)
    except ScenarioError as e:
        raise r.error("version", e.message.removeprefix("cni.version: ")) from None
    return version


def _cni_backend(r: Reader, version: str) -> str:
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
    r = Reader(data, "", file, lines or {})
    v = r.sub("vpc")
    cidr = v.address("cidr", network=True)  # first: its family is the scenario's
    azs = []
    for a in v.items("azs"):
        subnets = a.strings("subnets")
        azs.append(AZ(a.text("name", LABEL_VALUE_LIMIT, ZONE_REFUSAL),
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
        _proxy_version(
            kp, kp.get("version", (str, int, float), default="1.30" if proxy_mode == "nftables" else "1.18"), proxy_mode
        ),
        kp.address("cluster_cidr", required=False, network=True) or None,
        kp.address("service_cidr", required=False, network=True) or None,
        _node_port_addresses(kp),
    )
    kp.done()
    c = r.sub("cni", required=False)
    cni = Cni(
        c.text("name", TEXT_LIMIT, "hairpin refuses a CNI name", default="aws-vpc-cni"),
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
            n.name("name", "Node"), n.address("ip"), n.text("az", LABEL_VALUE_LIMIT, ZONE_REFUSAL), n.labels("labels"),
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
            p.name("node", "Node"),
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
            port = sp.integer("port", lo=PORT_RANGE[0], hi=PORT_RANGE[1])
            ports.append(
                ServicePort(
                    sp.text(
                        "name",
                        SERVICE_PORT_NAME_LIMIT,
                        "the API server refuses a Service port name (a DNS-1123 label)",
                        default="",
                    ),
                    sp.choice("protocol", ("TCP", "UDP"), "TCP"),
                    port,
                    sp.integer("target_port", default=port, lo=PORT_RANGE[0], hi=PORT_RANGE[1]),
                    sp.integer("node_port", default=None, lo=PORT_RANGE[0], hi=PORT_RANGE[1]),
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
            s.bounded(f"endpoints[{i}]", e, name_limit("Pod"), name_refusal("Pod"))
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
            s.integer("health_check_node_port", default=None, lo=PORT_RANGE[0], hi=PORT_RANGE[1]),
            lb,
            *_service_extras(s),
        )
        _proxy_features(s, svc, kube_proxy)
        s.done()
        services.append(svc)
    cl = r.sub("client")
    client = Client(
        cl.name("pod", "Pod"),
        # namespace/name: each part no longer than the API server accepts
        cl.text("service", NAMESPACE_LIMIT + 1 + name_limit("Service"), "no Service's namespace/name is"),
        cl.integer("port", lo=PORT_RANGE[0], hi=PORT_RANGE[1]),
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
        f"{path}: {why}", file, line_of(lines or {}, path)))  # fmt: skip
    called = services[svc_index].load_balancer
    if client.via == "load-balancer" and called is not None and not called.nodes:
        path = f"services[{svc_index}].load_balancer.nodes"
        raise ScenarioError(
            f"{path}: the client calls this load balancer: give its node address in each AZ (AZ: address)",
            file,
            line_of(lines or {}, path),
        )
    scenario = Scenario(
        r.text("name", SCENARIO_NAME_LIMIT, "hairpin refuses a scenario name"),
        str(r.text("description", DESCRIPTION_LIMIT, "hairpin refuses a description", default="")).strip(),
        r.text("region", LABEL_VALUE_LIMIT, REGION_REFUSAL, default="us-east-1"),
        vpc,
        kernel,
        kube_proxy,
        cni,
        tuple(nodes),
        tuple(pods),
        tuple(services),
        client,
    )
    fix = r.get("fix", str, default=None)
    if fix is not None and fix not in FIXES:
        raise r.error("fix", f"unknown fix {quoted(fix)}; known: {', '.join(FIXES)}")
    r.done()
    from hairpin.scenario_checks import refuse_contradictions, refuse_unserved_nodes, warnings

    def at(path: str, why: str) -> ScenarioError:  # an error or warning at the line of the key ``path``
        return ScenarioError(f"{path}: {why}", file, line_of(lines or {}, path))

    for check in (refuse_contradictions, refuse_unserved_nodes):
        check(scenario, at)
    if scenario.family == 6:
        from hairpin.scenario6 import refuse_misplaced_pod, refuse_unmodelled

        for refuse in (refuse_unmodelled, refuse_misplaced_pod):
            refuse(scenario, at)
    if fix is not None:
        # the fix: key claims a workaround (hairpin.fixes): one the rest of the file does not apply would have a
        # user read the results as the fix's, so it is refused; one it applies is the scenario's, as with_fix sets
        if lacks := missing(scenario, fix):
            raise at("fix", f"{fix} is not applied in this scenario: {lacks} (apply it, or remove fix:, which "
                            "applies nothing itself)")  # fmt: skip
        scenario = replace(scenario, fix=fix)
    found = warnings(scenario, at)
    return replace(scenario, warnings=found) if found else scenario


def _check_prefix(n: Reader, node: Node, vpc: Vpc) -> None:
    """nodes[].prefix: an IPv6 /80 inside the node's subnet (amazon-vpc-cni-k8s README, "IPv6 support": with
    ENABLE_IPv6 each node's primary ENI gets a /80 prefix, prefix delegation; pods take addresses from it)."""
    assert node.prefix is not None
    net = ipaddress.ip_network(node.prefix)
    if net.version != 6 or net.prefixlen != 80:
        raise n.error("prefix", f"must be the IPv6 /80 the VPC CNI delegated to the node (got {node.prefix})")
    subnet = vpc.subnet_of(node.ip)
    if subnet is None or not net.subnet_of(ipaddress.IPv6Network(subnet)):
        raise n.error("prefix", f"{node.prefix} is not in the node's subnet ({subnet})")


def _node_port_addresses(kp: Reader) -> tuple[str, ...] | None:
    """kube_proxy.node_port_addresses: "primary" or a list of CIDRs (absent/null: the mode's default)."""
    value = kp.get("node_port_addresses", (str, list), default=None)
    if value is None:
        return None
    if value == "primary":
        return ("primary",)
    if isinstance(value, str):
        raise kp.error("node_port_addresses", f'must be "primary" or a list of CIDRs (got {quoted(value)})')
    values = kp.strings("node_port_addresses")
    return tuple(kp.check_address(f"node_port_addresses[{i}]", v, network=True) for i, v in enumerate(values))


def _service_extras(s: Reader) -> tuple[Any, ...]:
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


def _proxy_features(s: Reader, svc: Service, kp: KubeProxy) -> None:
    """Refuse, with the key's line, a Service feature hairpin does not write for this kube-proxy mode/version."""
    from hairpin.kube.layout import unsupported

    for key, value in (("external_ips", svc.external_ips), ("load_balancer_ips", svc.load_balancer_ips),
                       ("load_balancer_source_ranges", svc.load_balancer_source_ranges),
                       ("session_affinity", svc.session_affinity != "None"),
                       ("internal_traffic_policy", svc.internal_traffic_policy != "Cluster")):  # fmt: skip
        why = unsupported(kp.mode, kp.version, key) if value else None
        if why:
            raise s.error(key, why)


#: a scenario file's largest size, as a share of ``reading.max_input()`` (4 MiB by default): the line-keeping YAML
#: reader (``parse``) holds about 100 bytes per byte read (measured: a 0.27 MB scenario of 5,000 nodes, 28 MB and
#: 1.6 s), and a real cluster's scenario is far smaller (``scenario from-cluster`` writes each node in one line)
SCENARIO_SHARE = 128
#: what a Kubernetes object or a kubectl dump opens with (``kubectl get -o json|yaml`` writes apiVersion first);
#: a scenario never has that key
_KUBE_HEAD = re.compile(r'\A(?:\s*#[^\n]*\n)*\s*(?:\{\s*"apiVersion"\s*:|---\s*\n\s*apiVersion:|apiVersion:|kind:)')
_FROM_CLUSTER = "hairpin scenario from-cluster --service NAMESPACE/NAME FILE -o mine.yaml builds a scenario from one"


def load(path: str | Path) -> Scenario:
    """Read a scenario YAML file; errors read ``FILE:LINE: key.path: what is wrong``.  A file larger than a
    scenario gets (``SCENARIO_SHARE``) or one that opens as a Kubernetes object does (a cluster dump given
    where a scenario goes) is one line saying so, before it is parsed."""
    p = Path(path)
    limit = reading.max_input() // SCENARIO_SHARE
    too_big = (f"larger than a scenario may be ({reading.human_size(limit)}, 1/{SCENARIO_SHARE} of --max-input); "
               f"a cluster dump? {_FROM_CLUSTER}")  # fmt: skip
    with contextlib.suppress(OSError):  # read_text names what cannot be read, in one line
        if str(p) != "-" and p.is_file() and p.stat().st_size > limit:
            raise ScenarioError(f"{p.stat().st_size:,} bytes: {too_big}", str(p))
    try:
        text = reading.read_text(p)
    except InputError as exc:
        raise ScenarioError(exc.message, exc.file, exc.line) from None
    if _KUBE_HEAD.match(text):
        raise ScenarioError(f"a Kubernetes object or dump, not a hairpin scenario; {_FROM_CLUSTER}", str(p), 1)
    if len(text) > limit:  # standard input, a FIFO: known once read
        raise ScenarioError(too_big, str(p))
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
