"""A hairpin Scenario from Kubernetes objects, and the scenario written back as YAML.

``scenario_from_objects(objects, service=, client=)`` builds a ``hairpin.scenario.Scenario`` for one
Service from a ``hairpin.kube.cluster.Cluster`` (nodes, pods, endpoints, the controller that provisions its
load balancer, kube-proxy's mode and version, ingress IPs and ipMode, the VPC CNI's version, its external-SNAT
setting (``hairpin.kube.cni_snat``) and, from the nodes' OS images, where it writes its connection marks:
``hairpin.kube.cni_backend``);
``scenario_yaml(scenario, notes)`` writes it in the seed's format (``hairpin.kube.from_cluster_yaml``, re-exported
here).  NLB node addresses are not in Kubernetes objects unless the Service's status lists them: otherwise one
placeholder per AZ is taken from a placeholder subnet, and the file says so.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from hairpin import reading
from hairpin.aws import automode, controller, providers, security_groups
from hairpin.aws.cloud_provider import Support, tg_attributes_support
from hairpin.errors import InputError, ScenarioError
from hairpin.kube import apivalidation, cni_backend, cni_mode, cni_snat, datapath, ipmode
from hairpin.kube.cluster import (
    REGION_LABELS,
    Cluster,
    KNode,
    KPod,
    KService,
    first_of,
)
from hairpin.kube.from_cluster_yaml import scenario_to_dict as scenario_to_dict
from hairpin.kube.from_cluster_yaml import scenario_yaml as scenario_yaml
from hairpin.kube.layout import unsupported
from hairpin.kube.version import (
    NEWER_SEEN,
    RELEASE_ASSUMED,
    kube_proxy_version,
    no_release,
    scenario_cni_version,
    scenario_kube_proxy_version,
)
from hairpin.parsers.manifests import KubeObject
from hairpin.parsers.strict import LABEL_VALUE_FORMAT, LABEL_VALUE_LIMIT
from hairpin.scenario import (
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
from hairpin.scenario_reader import quoted
from hairpin.text import digits

__all__ = ["LB_WARNING", "NOT_MODELLED", "RELEASE_ASSUMED", "WARNINGS", "scenario_from_objects", "scenario_to_dict", "scenario_yaml"]


#: how a note on a datapath hairpin does not model begins (``hairpin scenario from-cluster`` also prints it)
NOT_MODELLED = "not modelled:"
#: how a note begins that carries a warning of the load balancer's settings (``Settings.warnings``; also printed)
LB_WARNING = "load balancer warning:"
#: how the notes begin that ``hairpin scenario from-cluster`` also prints as warnings
WARNINGS = (NOT_MODELLED, cni_backend.ASSUMED, cni_mode.SETTINGS, RELEASE_ASSUMED, LB_WARNING, NEWER_SEEN)


def _port_number(value: Any) -> int | None:
    """A port number as Kubernetes stores it (an integer 1-65535), else None: ``.nan``, ``eighty``, ``1e999``,
    ``true`` are not ports."""
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535:
        return value
    return None


def _target_port(port: dict[str, Any], pods: Sequence[KPod], number: int) -> int | None:
    """targetPort: a number, a digit string, a named container port of a backend pod; absent, null, 0 or "": the port
    (the API server's default, kubernetes ``pkg/apis/core/v1/defaults.go`` SetDefaults_Service)."""
    tp = port.get("targetPort") or number
    if isinstance(tp, float) and tp.is_integer():  # kubectl sends 8080.0 as 8080 (apivalidation._whole)
        tp = int(tp)
    if isinstance(tp, str):
        if digits(tp):
            return _port_number(int(tp[:6]))
        for p in pods:
            if tp in p.container_ports:
                return _port_number(p.container_ports[tp])
        return number  # a name no pod declares: kube-proxy has no endpoint port; the port stands in
    return _port_number(tp)


def _ipv4(value: Any, what: str) -> str:
    """``value`` if it is a dotted IPv4 address, else one InputError naming ``what``."""
    try:
        return str(ipaddress.IPv4Address(str(value)))
    except ValueError:
        pass
    try:
        ipaddress.IPv6Address(str(value))
    except ValueError:
        raise InputError(f"{what}: not an IPv4 address: {reading.excerpt(str(value))}") from None
    raise InputError(f"{what}: {value}: an IPv6 address; scenario from-cluster builds IPv4 scenarios only (write an "
                     "IPv6 scenario by hand from examples/seed-ipv6.yaml; hairpin check reads IPv6 Services)") from None


def _where(objects: Any, namespace: str, name: str) -> tuple[str | None, int | None] | None:
    """The file and line of the input's Service of that namespace and name (read or refused), or None."""
    if isinstance(objects, Cluster):
        return None
    for o in objects:
        meta = o.data.get("metadata") if isinstance(o.data, dict) else None
        if o.kind == "Service" and isinstance(meta, dict) and meta.get("name") == name and (
            (meta.get("namespace") or "default") == namespace
        ):
            return o.file, o.line
    return None


def _node_ipv4(n: KNode) -> str:
    """The node's first IPv4 InternalIP, else the refusal ``_ipv4`` words for its first InternalIP."""
    for ip in n.ips:
        try:
            return str(ipaddress.IPv4Address(ip))
        except ValueError:
            continue
    return _ipv4(n.ip, f"Node {n.name}: status.addresses InternalIP")


def _service_ports(svc: KService, pods: Sequence[KPod]) -> tuple[ServicePort, ...]:
    out = []
    for i, p in enumerate(svc.ports):
        number = _port_number(p.get("port"))
        if number is None:
            raise InputError(
                f"Service {svc.key}: spec.ports[{i}].port: must be an integer from 1 to 65535, got "
                f"{reading.excerpt(str(p.get('port')))}",
                svc.file,
                svc.line,
            )
        target = _target_port(p, pods, number)
        if target is None:
            raise InputError(
                f"Service {svc.key}: spec.ports[{i}].targetPort: must be an integer from 1 to 65535 or a port "
                f"name, got {reading.excerpt(str(p.get('targetPort')))}",
                svc.file,
                svc.line,
            )
        node_port = _port_number(p.get("nodePort"))
        # 0, as null: no node port asked for (the API server allocates one; hairpin.kube.apivalidation.ports_refusal)
        if node_port is None and p.get("nodePort") not in (None, 0):
            raise InputError(
                f"Service {svc.key}: spec.ports[{i}].nodePort: must be an integer from 1 to 65535, got "
                f"{reading.excerpt(str(p.get('nodePort')))}",
                svc.file,
                svc.line,
            )
        proto = p.get("protocol") or "TCP"
        out.append(ServicePort(str(p.get("name") or ""), str(proto), number, target, node_port))
    return tuple(out)


def _tcp_first(svc: KService, ports: tuple[ServicePort, ...], notes: list[str]) -> tuple[ServicePort, ...]:
    """The ports a scenario holds, the one the client calls first: that must be TCP (``hairpin.scenario_protocols``:
    the simulator and the lab make TCP connections to the Service's first port).  SCTP ports are left out
    (scenario ports are TCP or UDP); UDP ports are kept after it, for kube-proxy's rules."""
    kept = tuple(p for p in ports if p.protocol in ("TCP", "UDP"))
    for p in ports:
        if p not in kept:
            notes.append(f"{NOT_MODELLED} port {p.port}/{p.protocol} of {svc.key} left out (scenario ports are TCP "
                         "or UDP)")  # fmt: skip
    tcp = [p for p in kept if p.protocol == "TCP"]
    if not tcp:
        shown = ", ".join(f"{p.port}/{p.protocol}" for p in ports)
        raise InputError(f"Service {svc.key} has no TCP port ({shown}): the simulator and the lab make TCP "
                         "connections only; hairpin check judges UDP ports", svc.file, svc.line)  # fmt: skip
    if kept[0] is not tcp[0]:
        notes.append(f"{NOT_MODELLED} calls to port {kept[0].port}/{kept[0].protocol} of {svc.key} (the client "
                     f"calls {tcp[0].port}/TCP, the Service's first TCP port, written first)")  # fmt: skip
    return (tcp[0], *(p for p in kept if p is not tcp[0]))


#: the prefixes tried for guessed subnets, in order: the /24 first (what hairpin has always written when it
#: works), then coarser ones down to the /17 (real EKS subnets are /16 to /20, whose second address is the VPC
#: router's and so never a node's or a pod's), then finer ones
_PREFIXES = (24, 23, 22, 21, 20, 19, 18, 17, 26, 28, 32)


def _subnets(azs: dict[str, list[str]]) -> dict[str, list[str]] | None:
    """Per AZ, networks of one prefix (``_PREFIXES``, in order) that hold its addresses without overlap, leave a
    /28 per AZ free in their /16 for the placeholder NLB addresses, and put no address read at a network's
    second address: a scenario gives that one to the VPC router (AWS reserves it in each subnet:
    ``hairpin.scenario_checks.refuse_contradictions``), so a real pod at 10.0.16.1 of a /19 subnet needs a guessed
    subnet other than 10.0.16.0/24 (the /19 itself, most often).  When every prefix puts an address at a
    router's, the first that holds the rest: the loader then names that address and its subnet.  None: no
    prefix separates the AZs."""
    fallback = None
    every = {a for addrs in azs.values() for a in addrs}
    for prefix in _PREFIXES:
        nets = {
            az: sorted({str(ipaddress.IPv4Network(f"{a}/{prefix}", strict=False)) for a in addrs})
            for az, addrs in azs.items()
        }
        seen: dict[str, str] = {}
        clash = False
        for az, ns in nets.items():
            for n in ns:
                if seen.setdefault(n, az) != az:
                    clash = True
        if clash or _vpc_range(nets, len(nets)) is None:
            continue
        if not any(str(ipaddress.IPv4Network(n).network_address + 1) in every for n in seen):
            return nets
        fallback = fallback or nets  # the loader then names the address and the subnet
    return fallback


def _vpc_range(nets: dict[str, list[str]], spare: int) -> ipaddress.IPv4Network | None:
    """The guessed VPC range: the /16 of the first network, or its supernet that holds them all; None when it
    leaves fewer than ``spare`` /28s free (one per AZ for the placeholder NLB addresses)."""
    all_nets = [ipaddress.IPv4Network(n) for ns_ in nets.values() for n in ns_]
    vpc_net = ipaddress.IPv4Network(f"{all_nets[0].network_address}/16", strict=False)
    while not all(n.subnet_of(vpc_net) for n in all_nets):
        vpc_net = vpc_net.supernet()
    whole = sum(2 ** (28 - n.prefixlen) for n in all_nets if n.prefixlen <= 28)  # networks of one prefix: disjoint
    touched = len({n.supernet(new_prefix=28) for n in all_nets if n.prefixlen > 28})
    return vpc_net if 2 ** (28 - vpc_net.prefixlen) - whole - touched >= spare else None


def _kube_proxy_ranges(svc: KService, notes: list[str]) -> tuple[str, ...]:
    """spec.loadBalancerSourceRanges as kube-proxy takes them (the spec field only, IPv4 here:
    kubernetes pkg/proxy/serviceport.go newBaseServiceInfo; ``hairpin.diagnose.proxy_firewall``)."""
    try:
        ranges = security_groups.parse_ranges(svc.source_ranges)
    except InputError as exc:
        notes.append(f"{exc.message}: kube-proxy's source-range firewall left out")
        return ()
    v4 = tuple(r for r in ranges if ipaddress.ip_network(r).version == 4)
    if v4:
        notes.append(f"kube-proxy enforces spec.loadBalancerSourceRanges on the captured IPs: {', '.join(v4)}")
    return v4


def _source_ranges(svc: KService, settings: controller.Settings, notes: list[str]) -> tuple[str, ...]:
    """The source ranges the security groups admit, as IPv4 networks (``hairpin.aws.security_groups``)."""
    honoured = settings.controller != automode.AUTO_MODE  # Auto Mode takes only the spec field
    ranges, origin = security_groups.source_ranges(svc.source_ranges, svc.annotations, annotation_honoured=honoured)
    if ranges and settings.controller in (controller.LBC, automode.AUTO_MODE):
        # the controller hands the ranges to EC2 as written (model_build_managed_sg.go): an IPv4-mapped one is an IPv6
        # rule whose effect EC2 does not document; left out (admits nobody), as ``hairpin check`` counts it
        written = (svc.source_ranges if origin == "spec.loadBalancerSourceRanges"
                   else (svc.annotations.get(security_groups.SOURCE_RANGES_ANNOTATION) or "").split(","))  # fmt: skip
        mapped = security_groups.mapped_ranges(written)
        if mapped:
            notes.append(f"IPv4-mapped source range(s) {', '.join(w for w, _ in mapped)} left out, as admitting nobody: "
                         "the AWS Load Balancer Controller hands them to EC2 as IPv6 rules, whose effect EC2 does not "
                         f"document; callers inside {', '.join(v4 for _, v4 in mapped)} may in fact be admitted")  # fmt: skip
            skip = {w for w, _ in mapped}
            written_trim = [apivalidation.go_trim_space(str(w)) for w in written]
            ranges = tuple(r for w, r in zip(written_trim, ranges, strict=True) if w not in skip)
    v4 = tuple(r for r in ranges if ":" not in r)
    if ranges:
        notes.append(f"source ranges from {origin}: {', '.join(v4)}" + (" (IPv6 ranges left out)" if len(v4) < len(ranges) else ""))
    return v4


def _refuse_router_address(
    vpc: ipaddress.IPv4Network, nodes: Sequence[Node], pods: Sequence[Pod], svc: Service
) -> None:
    """Refuse, naming the object, an address read at ``vpc``'s second address, where the scenario puts the VPC
    router.  ``vpc`` is the range guessed from the addresses read, aligned on at least a /16; a VPC subnet is a /16
    to a /28 and AWS reserves the first four addresses of each, its second for the VPC router (Amazon VPC User
    Guide, "Subnet CIDR blocks"; EC2 API Reference, CreateSubnet), so any subnet holding that address reserves it:
    no node, pod or load balancer in the VPC has it.  One that does is not a VPC address (a hybrid node's, an
    overlay network's pod), which hairpin does not model; a router moved elsewhere would be a scenario of a
    cluster that cannot exist."""
    router = str(vpc.network_address + 1)
    where = f"{router} is the VPC router's address in {vpc} (the VPC range guessed from the input)"
    if svc.cluster_ip == router:  # not an address of the VPC at all: the Service range overlaps the guessed one
        raise InputError(f"Service {svc.key}: spec.clusterIP {where}; a cluster IP range overlapping the VPC's is not "
                         "modelled: write the scenario by hand")  # fmt: skip
    held = [f"Node {n.name}: InternalIP" for n in nodes if n.ip == router]
    held += [f"Pod {p.namespace}/{p.name}: status.podIP" for p in pods if p.ip == router and not p.host_network]
    if svc.load_balancer is not None:
        held += [f"Service {svc.key}: status.loadBalancer.ingress" for _, a in svc.load_balancer.nodes if a == router]
    if held:
        raise InputError(f"{held[0]} {where}; AWS reserves it in any subnet holding it, so this is no VPC address "
                         "(hybrid node? overlay pod?), not modelled: leave the object out or write the scenario by "
                         "hand")  # fmt: skip


def label_value_ok(value: str) -> bool:
    """Whether the API server takes ``value`` as a label value (``IsValidLabelValue``, k8s.io/apimachinery
    pkg/util/validation: at most 63 characters of ``LABEL_VALUE_FORMAT``), as a scenario file's loader does."""
    return (
        isinstance(value, str) and len(value) <= LABEL_VALUE_LIMIT and LABEL_VALUE_FORMAT.fullmatch(value) is not None
    )


def _labels(given: dict[str, str], owner: str, dropped: list[str]) -> tuple[tuple[str, str], ...]:
    """``given`` as a scenario's labels, those with a value no cluster can hold (read from a hand-made manifest or
    dump) left out and named in ``dropped``: no valid selector can match them, so leaving them out changes no
    answer, and a scenario file refuses them."""
    kept = []
    for k, v in sorted(given.items()):
        if label_value_ok(v):
            kept.append((k, v))
        else:
            dropped.append(f"{owner} {k}={quoted(v)}")
    return tuple(kept)


def scenario_from_objects(
    objects: Iterable[KubeObject] | Cluster,
    *,
    service: str,
    client: str | None = None,
    name: str | None = None,
    mutator_webhook: bool | None = None,
    in_tree: Support | None = None,
) -> tuple[Scenario, list[str]]:
    """A hairpin Scenario for ``service`` (``ns/name``) called by ``client`` (``ns/name`` of a pod).

    Returns the scenario and notes on what was assumed (placeholders), for the file's comment.  With
    no client pod a placeholder client pod is put on the first node registered as a target.
    """
    c = objects if isinstance(objects, Cluster) else Cluster.from_objects(objects)
    notes: list[str] = []
    ns, _, sname = service.partition("/")
    if not sname:
        ns, sname = "default", ns
    svc = next((s for s in c.services if s.namespace == ns and s.name == sname), None)
    if svc is None and "/" in sname:  # hairpin check's name of a Gateway's target group: Kind/route/service:port
        raise InputError(f"--service {service}: a Gateway's target group as hairpin check names it; scenario "
                         "from-cluster builds a Service's own load balancer only, not a Gateway's")  # fmt: skip
    if svc is None:
        # a Service the API server would refuse (hairpin.kube.cluster: an enum value, contradicting cluster IPs) is
        # not among the Services: its refusal says why, not "no such Service"
        at = _where(objects, ns, sname)
        refusal = next((e for e in c.errors if (e.file, e.line) == at and e.message.endswith("refuses the Service")),
                       None)  # fmt: skip
        if refusal is not None:
            raise refusal
        raise InputError(f"--service {service}: no such Service in the input")
    nodes = [n for n in c.nodes.values() if n.ip and n.az]
    if not nodes:
        raise InputError("no Node with an InternalIP address and a topology.kubernetes.io/zone label in the input")
    # a dual-stack node lists an InternalIP of each family, the IPv6 one first on an IPv6 cluster's nodes: an IPv4
    # scenario takes the IPv4 one, the address an IPv4 target group registers and kube-proxy's IPv4 rules serve
    v4 = {n.name: _node_ipv4(n) for n in nodes}
    node_names = {n.name for n in nodes}
    eps = [e for e in c.endpoints_of(svc) if e.ready and e.node in node_names]
    pods: dict[str, KPod] = {}
    for e in eps:
        p = c.pod(svc.namespace, e.pod) if e.pod else None
        if p is None:
            p = KPod(svc.namespace, e.pod or f"endpoint-{e.ip.replace('.', '-')}", e.ip, e.node, {}, True, False)
        pods[p.name] = p
    for p in pods.values():
        if p.ip:
            _ipv4(p.ip, f"Pod {p.namespace}/{p.name}: status.podIP")
    ep_names = sorted(pods)  # kube-proxy's order is not in the objects; sorted by name
    client_pod: KPod | None = None
    if client:
        cns, _, cname = client.partition("/")
        if not cname:
            cns, cname = "default", cns
        client_pod = c.pod(cns, cname)
        if client_pod is None:
            raise InputError(f"--client-pod {client}: no such Pod in the input")
        if not client_pod.node or client_pod.node not in node_names or not client_pod.ip:
            raise InputError(f"--client-pod {client}: the pod has no node with a zone or no IP address")
        if client_pod.name in pods and pods[client_pod.name].namespace != client_pod.namespace:
            raise InputError(f"--client-pod {client}: a pod of the Service has the same name")
        _ipv4(client_pod.ip, f"Pod {client_pod.namespace}/{client_pod.name}: status.podIP")
        pods[client_pod.name] = client_pod
    kubelet = c.kubernetes_version()
    settings = providers.resolve(
        svc.annotations,
        load_balancer_class=svc.load_balancer_class,
        service_type=svc.type,
        protocols=svc.protocols(),
        external_traffic_policy=svc.external_traffic_policy,
        mutator_webhook=bool(mutator_webhook if mutator_webhook is not None else (c.webhook and not svc.existing)),
        lbc_load_balancer_only=c.lbc.gate("ServiceTypeLoadBalancerOnly", False) if c.lbc else False,
        lbc=c.lbc,
        in_tree=in_tree
        or (
            tg_attributes_support((kubelet[0], kubelet[1], -1), "the newest kubelet in the input", lower_bound=True)
            if kubelet is not None
            else None
        ),
    )
    # subnets per AZ from the addresses seen there
    by_az: dict[str, list[str]] = {}
    node_az = {n.name: str(n.az) for n in nodes}
    for n in nodes:
        by_az.setdefault(str(n.az), []).append(v4[n.name])
    for p in pods.values():
        if p.ip and p.node in node_az and not p.host_network:
            by_az.setdefault(node_az[p.node], []).append(p.ip)
    # the load balancer's IPs, when its status lists them (KEP-1860 ipMode; hairpin.kube.ipmode): its
    # node addresses, in the AZs guessed for them; the VIP-mode ones kube-proxy captures (set below)
    kp = kube_proxy_version(c)  # the oldest kube-proxy: its pods' image tags, else the nodes' kubeProxyVersion
    kp_seen = kp.version if kp is not None else None
    cap = ipmode.capture(svc.ingress, kp_seen)
    status_ips = ipmode.ipv4(i[0] for i in svc.ingress if i[0]) if settings.load_balancer in ("nlb", "clb") else ()
    status_nodes = ipmode.place(status_ips, by_az)
    for az, ip in status_nodes.items():
        by_az[az].append(ip)
    nets = _subnets(by_az)
    if nets is None:
        raise InputError("the same address appears in two AZs; cannot lay out subnets")
    all_nets = [ipaddress.IPv4Network(n) for ns_ in nets.values() for n in ns_]
    vpc_net = _vpc_range(nets, 0)
    assert vpc_net is not None  # any range leaves 0 or more /28s free
    used = list(all_nets)
    azs_sorted = sorted(nets)
    lb_nodes: list[tuple[str, str]] = []
    spare = (s for s in vpc_net.subnets(new_prefix=28) if not any(s.overlaps(u) for u in used))
    placeholder_subnets: dict[str, ipaddress.IPv4Network] = {}
    for az in azs_sorted:
        sub = next(spare, None)
        if sub is None:
            raise InputError("no free address space in the VPC range for placeholder NLB addresses")
        placeholder_subnets[az] = sub
        nets[az].append(str(sub))
        lb_nodes.append((az, status_nodes.get(az) or str(sub.network_address + 4)))  # AWS reserves the first four
    if status_nodes:
        notes.append(
            "NLB node addresses from the Service's status.loadBalancer.ingress: "
            + ", ".join(f"{az} {addr}" for az, addr in lb_nodes if az in status_nodes)
            + " (the status names no AZ: each address put in the AZ whose addresses are nearest)"
        )
    if len(status_nodes) < len(lb_nodes):
        notes.append(
            "NLB node addresses are not in Kubernetes objects: "
            + ", ".join(f"{az} {addr}" for az, addr in lb_nodes if az not in status_nodes)
            + " are placeholders in placeholder subnets (one /28 per AZ); replace them with the addresses "
            "`dig +short <load balancer DNS name>` returns"
        )
    notes.append("subnets are the smallest networks that hold each AZ's node and pod addresses, not the real ones")
    if client_pod is None:
        candidate = next((n for n in sorted(nodes, key=lambda n: (str(n.az), n.name)) if n.lb_eligible), nodes[0])
        sub = placeholder_subnets[str(candidate.az)]
        client_pod = KPod(
            "default",
            "hairpin-client",
            str(sub.network_address + 5),
            candidate.name,
            {"app": "hairpin-client"},
            True,
            False,
        )
        while client_pod.name in pods:
            client_pod.name += "-x"
        pods[client_pod.name] = client_pod
        notes.append(
            f"no --client-pod: placeholder client pod {client_pod.name} ({client_pod.ip}) on node {candidate.name}"
        )
    # the scenario's objects
    dropped: list[str] = []
    s_nodes = tuple(
        Node(n.name, v4[n.name], str(n.az), _labels(n.labels, f"node {n.name}", dropped))
        for n in sorted(nodes, key=lambda n: (str(n.az), n.name))
        if n.lb_eligible or n.name in {p.node for p in pods.values()}
    )
    s_pods = tuple(
        Pod(
            p.name,
            p.namespace,
            str(p.ip),
            str(p.node),
            _labels(p.labels, f"pod {p.namespace}/{p.name}", dropped),
            p.host_network,
        )
        for p in sorted(pods.values(), key=lambda p: (p.namespace, p.name))
        if p.ip and p.node in node_az
    )
    if dropped:
        notes.append("labels left out, their values being ones the API server refuses (no cluster holds them; the "
                     f"scenario file refuses them too): {', '.join(dropped)}")  # fmt: skip
    # which pods and nodes these select is the scenario's answer: one cannot be left out, so it is refused
    for what, given in (("spec.selector", tuple(svc.selector.items())),
                        ("the target-node-labels annotation", settings.target_node_labels)):  # fmt: skip
        for k, v in given:
            if not label_value_ok(v):
                raise InputError(f"Service {svc.key}: {what}: {k}={quoted(v)}: not a value a label can have (the "
                                 "API server refuses it on any object), so it selects nothing; a scenario refuses "
                                 "it too")  # fmt: skip
    ports = _service_ports(svc, list(pods.values()))
    if not ports:
        raise InputError(f"Service {svc.key} has no ports")
    ports = _tcp_first(svc, ports, notes)
    lb = None
    stype = svc.type if svc.type in ("ClusterIP", "NodePort", "LoadBalancer") else "ClusterIP"
    if settings.load_balancer in ("nlb", "clb"):
        lb = LoadBalancer(
            settings.load_balancer,
            settings.scheme if settings.scheme in ("internal", "internet-facing") else "internal",
            settings.target_type or "instance",
            settings.preserve_client_ip,
            settings.cross_zone,
            settings.proxy_protocol_v2,
            tuple(lb_nodes),
            settings.target_node_labels,
            settings.security_groups,
            _source_ranges(svc, settings, notes),
        )
        notes.extend(f"load balancer: {step}" for step in settings.steps)
        notes.extend(f"{LB_WARNING} {w}" for w in settings.warnings)  # e.g. the controller's release assumed
    else:
        notes.append(f"no AWS load balancer for {svc.key}: the client calls the ClusterIP")
    endpoint_names = tuple(n for n in ep_names if pods[n].ip and pods[n].node in node_az)
    cluster_ip = svc.cluster_ip if svc.cluster_ip and svc.cluster_ip != "None" else None
    if cluster_ip is None:
        cluster_ip = "10.100.0.10"
        notes.append(f"the Service has no clusterIP in the input: placeholder {cluster_ip}")
    s_svc = Service(
        svc.namespace,
        svc.name,
        stype,
        cluster_ip,
        ports,
        tuple(sorted(svc.selector.items())),
        endpoint_names,
        svc.external_traffic_policy if svc.external_traffic_policy in ("Cluster", "Local") else "Cluster",
        svc.health_check_node_port,
        lb,
    )
    proxy_mode = "iptables"
    if c.proxy_mode is None:
        notes.append("kube-proxy mode unknown (no kube-proxy ConfigMap in the input): iptables assumed")
    elif c.proxy_mode in ("iptables", "nftables", "ipvs"):
        proxy_mode = c.proxy_mode
        notes.append(f"kube-proxy {c.proxy_mode_from}")
    else:
        notes.append(f"kube-proxy mode {c.proxy_mode!r} is not modelled ({c.proxy_mode_from}): iptables assumed")
    dp = datapath.assess(c.seen)
    if dp is not None and not dp.modelled:
        notes.append(f"{NOT_MODELLED} {dp.short} ({'; '.join(dp.seen)}): the scenario models kube-proxy's NAT "
                     "instead, so reproduce shows what kube-proxy would do on this cluster, not what it does")  # fmt: skip
    kp_version = scenario_kube_proxy_version(c, kp, proxy_mode, notes)
    unreleased = no_release(c)
    if unreleased is not None:
        notes.append(f"{RELEASE_ASSUMED} {unreleased}: kube-proxy {kp_version} assumed (the scenario's notes say "
                     "where from); set kube_proxy.version in the scenario to the release it runs")  # fmt: skip
    cni_version = scenario_cni_version(c.seen, notes)
    notes.extend(c.seen.cni.warnings)  # aws-node pods (or the DaemonSet's template) that differ (hairpin.kube.cni_mode)
    external_snat, snat_notes = cni_snat.scenario_external_snat(c.seen.cni_snat, NOT_MODELLED)
    notes.extend(snat_notes)
    backend = cni_backend.infer(cni_version, [(n.name, c.nodes[n.name].os_image) for n in s_nodes])
    if backend.note is not None:
        notes.append(backend.note)
    captured = ipmode.ipv4(cap.captured)
    if lb is not None and status_ips:
        notes.append(f"load balancer ingress IPs: {cap.note}")
    if lb is not None and captured:
        try:
            why = unsupported(proxy_mode, kp_version, "load_balancer_ips")
        except ScenarioError as exc:
            why = exc.message
        if why:
            notes.append(f"ingress IPs kube-proxy captures ({', '.join(captured)}) left out: {why}")
        else:
            s_svc = replace(s_svc, load_balancer_ips=captured)
            notes.append(f"ingress IPs kube-proxy captures on every node (ipMode VIP): {', '.join(captured)}; "
                         "in-cluster callers of them never reach the load balancer")  # fmt: skip
            kp_ranges = _kube_proxy_ranges(svc, notes)
            if kp_ranges:
                s_svc = replace(s_svc, load_balancer_source_ranges=kp_ranges)
    _refuse_router_address(vpc_net, s_nodes, s_pods, s_svc)
    region = next((r for r in (first_of(n.labels, REGION_LABELS) for n in nodes) if r), None)
    if region is None:
        region = azs_sorted[0][:-1] if azs_sorted[0][-1:].isalpha() else "us-east-1"
    scen = Scenario(
        name or f"{svc.namespace}-{svc.name}",
        f"Built by `hairpin scenario from-cluster` from the Kubernetes objects of {svc.key}.",
        region,
        Vpc(str(vpc_net), str(vpc_net.network_address + 1), tuple(AZ(az, tuple(nets[az])) for az in azs_sorted)),
        Kernel(),
        KubeProxy(proxy_mode, kp_version),
        Cni(external_snat=external_snat, version=cni_version, connmark_backend=backend.value),
        s_nodes,
        s_pods,
        (s_svc,),
        Client(
            client_pod.name,
            svc.key,
            ports[0].port,
            "load-balancer" if lb is not None else "cluster-ip",
            None,
        ),
    )
    return scen, notes
