"""Kubernetes objects as a cluster hairpin can reason about, and a hairpin Scenario built from them.

``Cluster.from_objects(objects)`` keeps what the data path depends on, from Nodes, Pods, Services,
EndpointSlices and MutatingWebhookConfigurations (parsed manifests, ``kubectl get -o json|yaml`` dumps,
or ``live_objects()`` from the API server):

- a node's AZ is its ``topology.kubernetes.io/zone`` label (older clusters:
  ``failure-domain.beta.kubernetes.io/zone``); its address the ``InternalIP`` in ``status.addresses``;
- a pod's address is ``status.podIP``, its node ``spec.nodeName``; it is ready when its ``Ready``
  condition is True;
- a Service's endpoints come from its EndpointSlices (label ``kubernetes.io/service-name``; an endpoint
  is ready unless ``conditions.ready`` is false), else from the pods its selector matches;
- nodes the load balancer controllers never register as instance targets: labelled
  ``node.kubernetes.io/exclude-from-external-load-balancers`` (or the alpha ``exclude-balancer``),
  ``node-role.kubernetes.io/master``, Fargate (``eks.amazonaws.com/compute-type: fargate``), or tainted
  for deletion (``ToBeDeletedByClusterAutoscaler``, ``karpenter.sh/disrupted``) -- the AWS Load
  Balancer Controller's ``pkg/backend/endpoint_utils.go``;
- the AWS Load Balancer Controller's feature gates come from its Deployment's container args
  (``--feature-gates``; the container is named or imaged ``aws-load-balancer-controller``);
- the AWS Load Balancer Controller's service mutator webhook is installed when a
  MutatingWebhookConfiguration has a webhook named ``mservice.elbv2.k8s.aws``;
- kube-proxy's mode is the ``mode`` of the KubeProxyConfiguration in ConfigMap
  ``kube-system/kube-proxy-config`` (EKS's add-on) or ``kube-system/kube-proxy`` (kubeadm); empty
  means iptables (kube-proxy's Linux default).  Without the ConfigMap iptables is assumed and noted.

``scenario_from_objects(objects, service=, client=)`` builds a ``hairpin.scenario.Scenario`` and
``scenario_yaml(scenario, notes)`` writes it in the seed's format.  NLB node addresses are not in
Kubernetes objects: one placeholder per AZ is taken from a placeholder subnet, and the file says so.
"""

from __future__ import annotations

import ipaddress
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import yaml

from hairpin import reading
from hairpin.aws import automode, controller, gateway, providers, security_groups
from hairpin.aws.cloud_provider import Support, tg_attributes_support
from hairpin.errors import InputError, ScenarioError
from hairpin.kube import ipmode
from hairpin.kube.gateway_live import live_gateway_objects
from hairpin.kube.layout import unsupported
from hairpin.parsers.manifests import KubeObject, no_gc
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

__all__ = [
    "Cluster",
    "KEndpoint",
    "KNode",
    "KPod",
    "KService",
    "live_objects",
    "scenario_from_objects",
    "scenario_to_dict",
    "scenario_yaml",
]

ZONE_LABELS = ("topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone")
REGION_LABELS = ("topology.kubernetes.io/region", "failure-domain.beta.kubernetes.io/region")
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
#: kube-proxy's ConfigMaps in kube-system: EKS's add-on ("kube-proxy-config", key "config") and kubeadm's
#: ("kube-proxy", key "config.conf"); both hold a KubeProxyConfiguration.
PROXY_CONFIG_MAPS = ("kube-proxy-config", "kube-proxy")
_EXCLUDE_LABELS = (
    "node.kubernetes.io/exclude-from-external-load-balancers",
    "alpha.service-controller.kubernetes.io/exclude-balancer",
    "node-role.kubernetes.io/master",
)
_DELETE_TAINTS = ("ToBeDeletedByClusterAutoscaler", "karpenter.sh/disrupted")


@dataclass(slots=True)
class KNode:
    name: str
    ip: str | None
    az: str | None
    labels: dict[str, str]
    lb_eligible: bool
    kube_proxy_version: str | None = None
    kubelet_version: str | None = None


@dataclass(slots=True)
class KPod:
    namespace: str
    name: str
    ip: str | None
    node: str | None
    labels: dict[str, str]
    ready: bool
    host_network: bool
    container_ports: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class KService:
    namespace: str
    name: str
    type: str
    cluster_ip: str | None
    ports: list[dict[str, Any]]
    selector: dict[str, str]
    external_traffic_policy: str
    load_balancer_class: str | None
    annotations: dict[str, str]
    health_check_node_port: int | None
    file: str | None
    line: int | None
    existing: bool  # read from a cluster or a dump (has a uid / creationTimestamp), not a manifest to apply
    #: where annotations and some fields sit in the file, (line, column) (hairpin.parsers.strict.marks)
    marks: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: spec.loadBalancerSourceRanges, as written
    source_ranges: tuple[str, ...] = ()
    #: status.loadBalancer.ingress: (ip, hostname, ipMode) each (hairpin.kube.ipmode)
    ingress: tuple[tuple[str | None, str | None, str | None], ...] = ()

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def protocols(self) -> list[str]:
        return [str(p.get("protocol") or "TCP") for p in self.ports]


@dataclass(slots=True, frozen=True)
class KEndpoint:
    ip: str
    node: str | None
    pod: str | None  # pod name (same namespace as the Service)
    ready: bool


def _seq(value: Any) -> list[Any]:
    """A list field of an object, or no items when the input holds anything else there."""
    return value if isinstance(value, list) else []


def _map(value: Any) -> dict[str, Any]:
    """A mapping field of an object, or an empty one when the input holds anything else there."""
    return value if isinstance(value, dict) else {}


def _labels(meta: dict[str, Any], key: str = "labels") -> dict[str, str]:
    raw = meta.get(key) or {}
    return {str(k): "" if v is None else str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}


def _first(d: dict[str, str], keys: Sequence[str]) -> str | None:
    for k in keys:
        if d.get(k):
            return d[k]
    return None


def _version(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    parts = text.lstrip("v").split("-")[0].split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return None


def _ingress(status: Any) -> tuple[tuple[str | None, str | None, str | None], ...]:
    lb = status.get("loadBalancer") if isinstance(status, dict) else None
    items = lb.get("ingress") if isinstance(lb, dict) else None
    out = []
    for i in items if isinstance(items, list) else ():
        if isinstance(i, dict):
            ip, host, mode = i.get("ip"), i.get("hostname"), i.get("ipMode")
            out.append(tuple(str(x) if isinstance(x, str) and x else None for x in (ip, host, mode)))
    return tuple(out)  # type: ignore[arg-type]


class Cluster:
    """Nodes, pods, Services and endpoints, indexed for the checker and the scenario builder."""

    def __init__(self) -> None:
        self.nodes: dict[str, KNode] = {}
        self.pods: dict[tuple[str, str], KPod] = {}
        self.services: list[KService] = []
        self.slices: dict[tuple[str, str], list[KEndpoint]] = {}
        self.webhook: bool = False
        #: Gateway API objects (hairpin.aws.gateway)
        self.gateway_objects: list[KubeObject] = []
        self.has_pods = False
        self.has_slices = False
        #: kube-proxy's mode from its ConfigMap (kube-system/kube-proxy-config on EKS, kube-proxy on
        #: kubeadm clusters); None: no ConfigMap in the input
        self.proxy_mode: str | None = None
        self.proxy_mode_from: str = ""
        self._pods_by_ns: dict[str, list[KPod]] | None = None
        #: the AWS Load Balancer Controller's flags, from its Deployment; None: not in the input
        self.lbc: controller.LbcFlags | None = None

    @classmethod
    def from_objects(cls, objects: Iterable[KubeObject]) -> Cluster:
        c = cls()
        with no_gc():
            c._add_all(objects)
        return c

    def _add_all(self, objects: Iterable[KubeObject]) -> None:
        c = self
        for o in objects:
            kind = o.kind
            if kind == "Pod":
                c._add_pod(o.data)
            elif kind == "Node":
                c._add_node(o.data)
            elif kind == "Service":
                c._add_service(o)
            elif kind == "EndpointSlice":
                c._add_slice(o.data)
            elif kind == "ConfigMap":
                c._add_config_map(o.data)
            elif kind == "Deployment":
                c._add_deployment(o)
            elif kind in gateway.KINDS:
                c.gateway_objects.append(o)
            elif kind == "MutatingWebhookConfiguration":
                for wh in _seq(o.data.get("webhooks")):
                    if isinstance(wh, dict) and wh.get("name") == controller.LBC_WEBHOOK:
                        c.webhook = True

    # -- building -------------------------------------------------------------------------------
    def _add_config_map(self, d: dict[str, Any]) -> None:
        """kube-proxy's KubeProxyConfiguration: ``mode`` ("" or absent means iptables on Linux)."""
        meta = _map(d.get("metadata"))
        name = str(meta.get("name") or "")
        if meta.get("namespace") != "kube-system" or name not in PROXY_CONFIG_MAPS:
            return
        for key, text in sorted(_map(d.get("data")).items()):
            try:  # depth- and alias-checked: the ConfigMap is input like any file
                conf = reading.load_yaml(str(text), f"ConfigMap kube-system/{name} ({key})")
            except InputError:
                continue
            if isinstance(conf, dict) and conf.get("kind") == "KubeProxyConfiguration":
                mode = str(conf.get("mode") or "iptables").lower()
                self.proxy_mode = mode
                self.proxy_mode_from = f"ConfigMap kube-system/{name} ({key}): mode {conf.get('mode') or '(empty)'}"
                return

    def _add_deployment(self, o: KubeObject) -> None:
        """The AWS Load Balancer Controller's Deployment (a container named or imaged
        aws-load-balancer-controller, with the --cluster-name flag it requires): its flags
        (``hairpin.aws.lbc_flags``), from ``command`` after the program, then ``args``, as the process gets them."""
        tpl = ((o.data.get("spec") or {}).get("template") or {}).get("spec") or {}
        for ctr in tpl.get("containers") or ():
            if not isinstance(ctr, dict):
                continue
            command = [str(a) for a in _seq(ctr.get("command")) if isinstance(a, str | int | float)]
            args = command[1:] + [str(a) for a in _seq(ctr.get("args")) if isinstance(a, str | int | float)]
            ident = f"{ctr.get('name') or ''} {ctr.get('image') or ''}"
            if "aws-load-balancer-controller" in ident and any(a.startswith("--cluster-name") for a in args):
                where = f"Deployment {o.namespace}/{o.name}"
                if o.file:
                    where += f" ({o.file}:{o.line})"
                self.lbc = controller.lbc_flags(args, where)
                return

    def _add_node(self, d: dict[str, Any]) -> None:
        meta = _map(d.get("metadata"))
        name = str(meta.get("name") or "")
        labels = _labels(meta)
        status = _map(d.get("status"))
        ip = None
        for addr in _seq(status.get("addresses")):
            if isinstance(addr, dict) and addr.get("type") == "InternalIP":
                ip = str(addr.get("address"))
                break
        taints = {str(t.get("key")) for t in _seq(_map(d.get("spec")).get("taints")) if isinstance(t, dict)}
        eligible = (
            not any(k in labels for k in _EXCLUDE_LABELS)
            and labels.get("eks.amazonaws.com/compute-type") != "fargate"
            and not taints.intersection(_DELETE_TAINTS)
        )
        info = _map(status.get("nodeInfo"))
        self.nodes[name] = KNode(
            name,
            ip,
            _first(labels, ZONE_LABELS),
            labels,
            eligible,
            info.get("kubeProxyVersion") or None,
            info.get("kubeletVersion") or None,
        )

    def _add_pod(self, d: dict[str, Any]) -> None:
        self.has_pods = True
        meta = _map(d.get("metadata"))
        spec = _map(d.get("spec"))
        status = _map(d.get("status"))
        if status.get("phase") in ("Succeeded", "Failed") or meta.get("deletionTimestamp"):
            return
        ready = False
        for cond in _seq(status.get("conditions")):
            if isinstance(cond, dict) and cond.get("type") == "Ready":
                ready = cond.get("status") == "True"
                break
        else:
            ready = status.get("phase") == "Running"
        ports: dict[str, int] = {}
        for ctr in _seq(spec.get("containers")):
            for p in _seq(_map(ctr).get("ports")):
                if isinstance(p, dict) and p.get("name") and isinstance(p.get("containerPort"), int):
                    ports[str(p["name"])] = int(p["containerPort"])
        pod = KPod(
            str(meta.get("namespace") or "default"),
            str(meta.get("name") or ""),
            status.get("podIP") or None,
            spec.get("nodeName") or None,
            _labels(meta),
            ready,
            bool(spec.get("hostNetwork")),
            ports,
        )
        self.pods[(pod.namespace, pod.name)] = pod
        self._pods_by_ns = None

    def _add_service(self, o: KubeObject) -> None:
        d = o.data
        meta = _map(d.get("metadata"))
        spec = _map(d.get("spec"))
        hc = spec.get("healthCheckNodePort")
        self.services.append(
            KService(
                str(meta.get("namespace") or "default"),
                str(meta.get("name") or ""),
                str(spec.get("type") or "ClusterIP"),
                spec.get("clusterIP") or None,
                [p for p in _seq(spec.get("ports")) if isinstance(p, dict)],
                _labels(spec, "selector"),
                str(spec.get("externalTrafficPolicy") or "Cluster"),
                spec.get("loadBalancerClass") or None,
                _labels(meta, "annotations"),
                hc if isinstance(hc, int) else None,
                o.file,
                o.line,
                bool(meta.get("uid") or meta.get("creationTimestamp")),
                dict(o.marks or {}),
                source_ranges=tuple(str(r) for r in spec.get("loadBalancerSourceRanges") or () if isinstance(r, str)),
                ingress=_ingress(d.get("status")),
            )
        )

    def _add_slice(self, d: dict[str, Any]) -> None:
        self.has_slices = True
        meta = _map(d.get("metadata"))
        svc = _labels(meta).get(SERVICE_NAME_LABEL)
        if not svc:
            return
        key = (str(meta.get("namespace") or "default"), svc)
        eps = self.slices.setdefault(key, [])
        for ep in _seq(d.get("endpoints")):
            if not isinstance(ep, dict):
                continue
            addrs = _seq(ep.get("addresses"))
            if not addrs:
                continue
            cond = _map(ep.get("conditions"))
            ref = _map(ep.get("targetRef"))
            pod = ref.get("name") if ref.get("kind", "Pod") == "Pod" else None
            eps.append(KEndpoint(str(addrs[0]), ep.get("nodeName") or None, pod, cond.get("ready") is not False))

    # -- queries --------------------------------------------------------------------------------
    def kubernetes_version(self) -> tuple[int, int] | None:
        """The newest kubelet (major, minor): a lower bound of the control plane's version."""
        best: tuple[int, int] | None = None
        for n in self.nodes.values():
            v = _version(n.kubelet_version or n.kube_proxy_version)
            if v is not None and (best is None or v > best):
                best = v
        return best

    def knows_nodes(self) -> bool:
        return any(n.az for n in self.nodes.values())

    def knows_endpoints(self) -> bool:
        return self.has_slices or self.has_pods

    def _by_ns(self) -> dict[str, list[KPod]]:
        if self._pods_by_ns is None:
            idx: dict[str, list[KPod]] = {}
            for p in self.pods.values():
                idx.setdefault(p.namespace, []).append(p)
            self._pods_by_ns = idx
        return self._pods_by_ns

    def endpoints_of(self, svc: KService) -> list[KEndpoint]:
        """Ready and not-ready endpoints: EndpointSlices first, else the pods the selector matches."""
        eps = self.slices.get((svc.namespace, svc.name))
        if eps is not None:
            out = []
            for e in eps:
                node = e.node
                if node is None and e.pod is not None:
                    p = self.pods.get((svc.namespace, e.pod))
                    node = p.node if p is not None else None
                out.append(KEndpoint(e.ip, node, e.pod, e.ready) if node != e.node else e)
            return out
        if not svc.selector:
            return []
        sel = svc.selector.items()
        return [
            KEndpoint(p.ip, p.node, p.name, p.ready)
            for p in self._by_ns().get(svc.namespace, ())
            if p.ip and all(p.labels.get(k) == v for k, v in sel)
        ]


# ---------------------------------------------------------------------------------------------- live


def _check_kubeconfig(kubeconfig: str | None) -> None:
    """Read each kubeconfig file the client would read through ``hairpin.reading`` first (size, UTF-8, depth,
    no aliases), so a hostile one is one line naming it; the client then loads it as usual.  The files are
    ``--kubeconfig``, else ``$KUBECONFIG`` (a list joined by ``os.pathsep``), else ``~/.kube/config``."""
    if kubeconfig is not None:
        files = [kubeconfig]
    elif os.environ.get("KUBECONFIG"):
        files = [f for f in os.environ["KUBECONFIG"].split(os.pathsep) if f]
    else:
        files = [os.path.expanduser("~/.kube/config")]
    for f in files:
        if not os.path.exists(f):
            if kubeconfig is not None:
                raise InputError("cannot load kubeconfig: no such file", f)
            continue
        data = reading.load_yaml(reading.read_text(f), f)
        if data is not None and not isinstance(data, dict):
            raise InputError(f"cannot load kubeconfig: expected a mapping, got {type(data).__name__}", f)


def live_objects(kubeconfig: str | None = None, context: str | None = None) -> list[KubeObject]:
    """Nodes, Pods, Services, EndpointSlices, MutatingWebhookConfigurations, kube-proxy's ConfigMap and the AWS
    Load Balancer Controller's Deployments (its feature gates) from the API server.

    Read-only: list calls, paged (limit 500), and a get of each of kube-proxy's ConfigMaps by name (the
    ClusterRole in docs/check.md grants exactly these); the raw JSON is decoded directly (much faster than
    the client's model objects for large clusters).  Errors become ``InputError``.
    """
    try:
        from kubernetes import client, config
        from kubernetes.client.exceptions import ApiException
    except ImportError as exc:  # pragma: no cover - kubernetes is a dependency
        raise InputError(f"the kubernetes Python client is not installed: {exc}") from None
    _check_kubeconfig(kubeconfig)
    try:
        api_client = config.new_client_from_config(config_file=kubeconfig, context=context)  # type: ignore[no-untyped-call]
    except Exception as exc:  # the loader raises ConfigException, OSError, TypeError...
        why = next((s.strip() for s in str(exc).splitlines() if s.strip()), type(exc).__name__)
        raise InputError(f"cannot load kubeconfig: {why}", kubeconfig or "~/.kube/config") from None
    core = client.CoreV1Api(api_client)
    discovery = client.DiscoveryV1Api(api_client)
    admission = client.AdmissionregistrationV1Api(api_client)

    def lbc_deployments(**kw: Any) -> Any:  # the AWS Load Balancer Controller's (its Helm chart's label)
        apps = client.AppsV1Api(api_client)
        return apps.list_deployment_for_all_namespaces(
            label_selector="app.kubernetes.io/name=aws-load-balancer-controller", **kw
        )

    calls: list[tuple[str, Any]] = [
        ("Node", core.list_node),
        ("Pod", core.list_pod_for_all_namespaces),
        ("Service", core.list_service_for_all_namespaces),
        ("EndpointSlice", discovery.list_endpoint_slice_for_all_namespaces),
        ("MutatingWebhookConfiguration", admission.list_mutating_webhook_configuration),
        ("Deployment", lbc_deployments),
    ]
    out: list[KubeObject] = []
    where = f"context {context}" if context else "the current context"
    for kind, call in calls:
        token: str | None = None
        while True:
            try:
                kw: dict[str, Any] = {"limit": 500, "_preload_content": False}
                if token:
                    kw["_continue"] = token
                resp = call(**kw)
                data = json.loads(resp.data)
            except ApiException as exc:
                if kind in ("MutatingWebhookConfiguration", "Deployment") and exc.status in (401, 403, 404):
                    break  # optional: whether the LBC webhook is installed, the LBC's flags
                raise InputError(f"listing {kind}s failed: {exc.status} {exc.reason}", where) from None
            except Exception as exc:  # connection refused, TLS, bad JSON
                raise InputError(f"listing {kind}s failed: {exc}", where) from None
            if not isinstance(data, dict):
                raise InputError(f"listing {kind}s failed: the API server answered a {type(data).__name__}", where)
            for item in data.get("items") or ():
                if isinstance(item, dict):
                    out.append(KubeObject(kind, item, None, None))
            token = _map(data.get("metadata")).get("continue") or None
            if not token:
                break
    # kube-proxy's mode: each of its ConfigMaps read by name (get), never a list of kube-system's ConfigMaps,
    # which would also return aws-auth and every other secret-adjacent ConfigMap there.  Optional: without
    # the ConfigMap (404) or the permission (401/403) iptables is assumed and noted.
    for name in PROXY_CONFIG_MAPS:
        try:
            raw: Any = core.read_namespaced_config_map(name, "kube-system", _preload_content=False)
            item = json.loads(raw.data)
        except ApiException as exc:
            if exc.status in (401, 403, 404):
                continue
            raise InputError(f"reading ConfigMap kube-system/{name} failed: {exc.status} {exc.reason}", where) from None
        except Exception as exc:  # connection refused, TLS, bad JSON
            raise InputError(f"reading ConfigMap kube-system/{name} failed: {exc}", where) from None
        if isinstance(item, dict):
            out.append(KubeObject("ConfigMap", item, None, None))
    out.extend(live_gateway_objects(api_client, where))
    return out


# ---------------------------------------------------------------------------------------------- scenario


def _port_number(value: Any) -> int | None:
    """A port number as Kubernetes stores it (an integer 1-65535), else None: ``.nan``, ``eighty``, ``1e999``,
    ``true`` are not ports."""
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535:
        return value
    return None


def _target_port(port: dict[str, Any], pods: Sequence[KPod], number: int) -> int | None:
    """targetPort: a number, a digit string, a named container port of a backend pod; absent: the port."""
    tp = port.get("targetPort", number)
    if isinstance(tp, str):
        if tp.isdigit():
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
        raise InputError(f"{what}: not an IPv4 address: {reading.excerpt(str(value))}") from None


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
        if node_port is None and p.get("nodePort") is not None:
            raise InputError(
                f"Service {svc.key}: spec.ports[{i}].nodePort: must be an integer from 1 to 65535, got "
                f"{reading.excerpt(str(p.get('nodePort')))}",
                svc.file,
                svc.line,
            )
        proto = p.get("protocol") or "TCP"
        out.append(ServicePort(str(p.get("name") or ""), str(proto), number, target, node_port))
    return tuple(out)


def _subnets(azs: dict[str, list[str]]) -> dict[str, list[str]] | None:
    """Per AZ, the smallest-prefix networks (/24 down to /32) that hold its addresses without overlap."""
    for prefix in (24, 26, 28, 32):
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
        if not clash:
            return nets
    return None


def _source_ranges(svc: KService, settings: controller.Settings, notes: list[str]) -> tuple[str, ...]:
    """The source ranges the security groups admit, as IPv4 networks (``hairpin.aws.security_groups``)."""
    honoured = settings.controller != automode.AUTO_MODE  # Auto Mode takes only the spec field
    ranges, origin = security_groups.source_ranges(svc.source_ranges, svc.annotations, annotation_honoured=honoured)
    v4 = tuple(r for r in ranges if ":" not in r)
    if ranges:
        notes.append(f"source ranges from {origin}: {', '.join(v4)}" + (" (IPv6 ranges left out)" if len(v4) < len(ranges) else ""))
    return v4


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
    if svc is None:
        raise InputError(f"--service {service}: no such Service in the input")
    nodes = [n for n in c.nodes.values() if n.ip and n.az]
    if not nodes:
        raise InputError("no Node with an InternalIP address and a topology.kubernetes.io/zone label in the input")
    for n in nodes:
        _ipv4(n.ip, f"Node {n.name}: status.addresses InternalIP")
    node_names = {n.name for n in nodes}
    eps = [e for e in c.endpoints_of(svc) if e.ready and e.node in node_names]
    pods: dict[str, KPod] = {}
    for e in eps:
        p = c.pods.get((svc.namespace, e.pod)) if e.pod else None
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
        client_pod = c.pods.get((cns, cname))
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
        by_az.setdefault(str(n.az), []).append(str(n.ip))
    for p in pods.values():
        if p.ip and p.node in node_az and not p.host_network:
            by_az.setdefault(node_az[p.node], []).append(p.ip)
    # the load balancer's IPs, when its status lists them (KEP-1860 ipMode; hairpin.kube.ipmode): its
    # node addresses, in the AZs guessed for them; the VIP-mode ones kube-proxy captures (set below)
    kp_seen = _version(next((n.kube_proxy_version for n in nodes if n.kube_proxy_version), None))
    cap = ipmode.capture(svc.ingress, kp_seen)
    status_ips = ipmode.ipv4(i[0] for i in svc.ingress if i[0]) if settings.load_balancer in ("nlb", "clb") else ()
    status_nodes = ipmode.place(status_ips, by_az)
    for az, ip in status_nodes.items():
        by_az[az].append(ip)
    nets = _subnets(by_az)
    if nets is None:
        raise InputError("the same address appears in two AZs; cannot lay out subnets")
    all_nets = [ipaddress.IPv4Network(n) for ns_ in nets.values() for n in ns_]
    vpc_net = ipaddress.IPv4Network(f"{all_nets[0].network_address}/16", strict=False)
    while not all(n.subnet_of(vpc_net) for n in all_nets):
        vpc_net = vpc_net.supernet()
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
    s_nodes = tuple(
        Node(n.name, str(n.ip), str(n.az), tuple(sorted(n.labels.items())))
        for n in sorted(nodes, key=lambda n: (str(n.az), n.name))
        if n.lb_eligible or n.name in {p.node for p in pods.values()}
    )
    s_pods = tuple(
        Pod(p.name, p.namespace, str(p.ip), str(p.node), tuple(sorted(p.labels.items())), p.host_network)
        for p in sorted(pods.values(), key=lambda p: (p.namespace, p.name))
        if p.ip and p.node in node_az
    )
    ports = _service_ports(svc, list(pods.values()))
    if not ports:
        raise InputError(f"Service {svc.key} has no ports")
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
    versions = [n.kube_proxy_version for n in nodes if n.kube_proxy_version]
    kp_version = "1.30" if proxy_mode == "nftables" else "1.29"  # nftables: the first modelled layout
    if versions:
        v = versions[0].lstrip("v").split("-")[0].split(".")
        kp_version = ".".join(v[:2])
    else:
        notes.append(f"kube-proxy version unknown (no node status.nodeInfo): {kp_version} assumed")
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
    region = next((r for r in (_first(n.labels, REGION_LABELS) for n in nodes) if r), None)
    if region is None:
        region = azs_sorted[0][:-1] if azs_sorted[0][-1:].isalpha() else "us-east-1"
    scen = Scenario(
        name or f"{svc.namespace}-{svc.name}",
        f"Built by `hairpin scenario from-cluster` from the Kubernetes objects of {svc.key}.",
        region,
        Vpc(str(vpc_net), str(vpc_net.network_address + 1), tuple(AZ(az, tuple(nets[az])) for az in azs_sorted)),
        Kernel(),
        KubeProxy(proxy_mode, kp_version),
        Cni(),
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
        "cni": {"name": s.cni.name, "external_snat": s.cni.external_snat, "nat_outgoing": s.cni.nat_outgoing},
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


def scenario_yaml(s: Scenario, notes: Sequence[str] = ()) -> str:
    """The scenario as YAML in the seed's layout, ``notes`` as the header comment."""
    head = [f"# {s.name}: built by `hairpin scenario from-cluster`; load it with `hairpin reproduce --scenario`."]
    head += [f"# - {n}" for n in notes]
    body = yaml.safe_dump(scenario_to_dict(s), sort_keys=False, default_flow_style=None, width=120)
    return "\n".join(head) + "\n" + body
