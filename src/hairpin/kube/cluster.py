"""Kubernetes objects as a cluster hairpin can reason about.

``Cluster.from_objects(objects)`` keeps what the data path depends on, from Nodes, Pods, Services,
EndpointSlices and MutatingWebhookConfigurations (parsed manifests, ``kubectl get -o json|yaml`` dumps,
or ``live_objects()`` from the API server):

- a node's AZ is its ``topology.kubernetes.io/zone`` label (older clusters:
  ``failure-domain.beta.kubernetes.io/zone``); its address the ``InternalIP`` in ``status.addresses``;
- a pod's address is ``status.podIP`` (every address: ``status.podIPs``), its node ``spec.nodeName``; it is
  ready when its ``Ready`` condition is True; a node's pod networks are ``spec.podCIDRs`` (else ``podCIDR``);
- a Service's ``spec.ipFamilies`` and ``spec.ipFamilyPolicy`` are kept as written; values the API server
  refuses (``hairpin.aws.ipfamily.refusal``; source ranges and ``loadBalancerClass``:
  ``hairpin.kube.apivalidation``) leave the Service out with an input error in ``errors``;
- a Service's endpoints come from its EndpointSlices (label ``kubernetes.io/service-name``; an endpoint
  is ready unless ``conditions.ready`` is false), else from the pods its selector matches;
- nodes the load balancer controllers never register as instance targets: labelled
  ``node.kubernetes.io/exclude-from-external-load-balancers`` (or the alpha ``exclude-balancer``),
  ``node-role.kubernetes.io/master``, Fargate (``eks.amazonaws.com/compute-type: fargate``), or tainted
  for deletion (``ToBeDeletedByClusterAutoscaler``, ``karpenter.sh/disrupted``) -- the AWS Load
  Balancer Controller's ``pkg/backend/endpoint_utils.go``;
- the AWS Load Balancer Controller's feature gates come from its Deployment's container args
  (``--feature-gates``; the container is named or imaged ``aws-load-balancer-controller``), its release
  from the container's image tag (``hairpin.aws.lbc_annotations``: it decides how map annotations read);
- the AWS Load Balancer Controller's service mutator webhook is installed when a
  MutatingWebhookConfiguration has a webhook named ``mservice.elbv2.k8s.aws``;
- kube-proxy's mode is the ``mode`` of the KubeProxyConfiguration in ConfigMap
  ``kube-system/kube-proxy-config`` (EKS's add-on) or ``kube-system/kube-proxy`` (kubeadm); empty
  means iptables (kube-proxy's Linux default).  Without the ConfigMap iptables is assumed and noted;
- what translates the Services (kube-proxy, Cilium's kube-proxy replacement, Calico's eBPF dataplane) is
  gathered in ``seen`` from every Pod's labels, images and environment and from ConfigMap ``cilium-config``
  (``hairpin.kube.datapath``), and the AWS VPC CNI's settings from its pods and its DaemonSet
  ``kube-system/aws-node`` (``hairpin.kube.cni_mode``).

A live cluster's objects come from ``hairpin.kube.live``; ``hairpin.kube.from_cluster`` builds a scenario
from a ``Cluster``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hairpin import reading
from hairpin.aws import cloud_config, controller, gateway, gateway_crd, ipfamily
from hairpin.errors import InputError
from hairpin.gcpause import paused
from hairpin.kube import apivalidation as api
from hairpin.kube.datapath import Seen
from hairpin.parsers.manifests import KubeObject

__all__ = [
    "Cluster",
    "KEndpoint",
    "KNode",
    "KPod",
    "KService",
    "first_of",
    "mapping_of",
    "version_of",
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
    #: spec.podCIDRs (else spec.podCIDR): the pod networks the node's IPAM assigns from (overlay CNIs;
    #: the AWS VPC CNI gives pods VPC addresses and leaves these unset)
    pod_cidrs: tuple[str, ...] = ()
    #: every InternalIP in status.addresses (a dual-stack node has one of each family; ``ip`` is the first)
    ips: tuple[str, ...] = ()
    #: status.nodeInfo.osImage ("Amazon Linux 2023.6.20250115"): which iptables the node's aws-node follows
    #: (``hairpin.kube.cni_backend``)
    os_image: str | None = None


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
    #: status.podIPs (every address of a dual-stack pod; status.podIP is the first)
    ips: tuple[str, ...] = ()


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
    #: spec.ipFamilies and spec.ipFamilyPolicy as written (hairpin.aws.ipfamily)
    ip_families: tuple[str, ...] = ()
    ip_family_policy: str | None = None
    #: spec.clusterIPs as the API server takes them (spec.clusterIP alone: [it]; ipfamily.cluster_ips)
    cluster_ips: tuple[str, ...] = ()
    #: spec.sessionAffinity and spec.loadBalancerIP as written ("" when not set; the API server's default
    #: affinity is None)
    session_affinity: str = ""
    load_balancer_ip: str = ""
    #: spec.allocateLoadBalancerNodePorts is not false (its default is true)
    allocate_node_ports: bool = True
    #: spec.internalTrafficPolicy as written ("" when not set: Cluster)
    internal_traffic_policy: str = ""
    #: metadata.namespace is written (or the object comes from the cluster); else kubectl applies the manifest to
    #: the namespace of its command (-n, else the context's), which hairpin cannot know: ``namespace`` says default
    namespace_set: bool = True

    @property
    def kubectl_ns(self) -> str:
        """``-n NAMESPACE `` for a kubectl command on this Service; nothing when the manifest names no namespace."""
        return f"-n {self.namespace} " if self.namespace_set else ""

    @property
    def dns_namespace(self) -> str:
        """The namespace in the Service's cluster DNS name (a placeholder when the manifest names none)."""
        return self.namespace if self.namespace_set else "<namespace>"

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


#: the kinds hairpin reads, by their lower case (a kind in another case is refused: ``Cluster._add_all``)
_KINDS_BY_LOWER = {k.lower(): k for k in ("Pod", "Node", "Service", "EndpointSlice", "ConfigMap", "Deployment",
                                           "DaemonSet", "TargetGroupBinding", "MutatingWebhookConfiguration", *gateway.KINDS)}  # fmt: skip


#: the values the API server takes for a Service's enumerated fields, in the order it checks them
#: (kubernetes pkg/apis/core/validation/validation.go, ``ValidateService``: ``supportedSessionAffinityType``,
#: ``supportedServiceType``, ``validExternalTrafficPolicies``, ``supportedServiceInternalTrafficPolicy``); an
#: empty or missing value is defaulted before it is validated
_SERVICE_ENUMS = (
    ("sessionAffinity", ("ClientIP", "None")),
    ("type", ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")),
    ("externalTrafficPolicy", ("Cluster", "Local")),
    ("internalTrafficPolicy", ("Cluster", "Local")),
)


def _unsupported(spec: dict[str, Any]) -> str | None:
    """The API server's refusal of a Service field holding a value outside its enum (``local`` for ``Local``), in
    its words (``field.NotSupported``), or None: such a manifest never becomes a Service, so it is no verdict's."""
    for key, values in _SERVICE_ENUMS:
        v = spec.get(key)
        if isinstance(v, str) and v and v not in values:
            listed = ", ".join(f'"{x}"' for x in values)
            return (f'spec.{key}: Unsupported value: "{v}": supported values: {listed}: the API server refuses the '
                    "Service")  # fmt: skip
    return None


def _text(value: Any) -> str:
    """A string field of an object, or "" when the input holds anything else there."""
    return value if isinstance(value, str) else ""


def mapping_of(value: Any) -> dict[str, Any]:
    """A mapping field of an object, or an empty one when the input holds anything else there."""
    return value if isinstance(value, dict) else {}


def _labels(meta: dict[str, Any], key: str = "labels") -> dict[str, str]:
    raw = meta.get(key) or {}
    return {str(k): "" if v is None else str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}


def first_of(d: dict[str, str], keys: Sequence[str]) -> str | None:
    """The value of the first of ``keys`` that ``d`` has non-empty (a label with its older name after it)."""
    for k in keys:
        if d.get(k):
            return d[k]
    return None


def version_of(text: str | None) -> tuple[int, int] | None:
    """(major, minor) of a Kubernetes version string such as ``v1.33.4-eks-...``; None when it is not one."""
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
        #: the Pods as read, made into KPods the first time ``pods`` is asked for: the checker needs none of
        #: them when every EndpointSlice endpoint names its node (150,000 Pods: about 0.4 s and 60 MiB)
        self._pod_data: list[dict[str, Any]] = []
        self._pods: dict[tuple[str, str], KPod] | None = None
        #: while ``pods`` is not made: the Pods as read by (namespace, name), and those ``pod`` made
        self._pod_keys: dict[tuple[str, str], list[dict[str, Any]]] | None = None
        self._pods_made: dict[tuple[str, str], KPod | None] = {}
        self.services: list[KService] = []
        #: each Service's endpoints, made from its EndpointSlices (``_slice_data``) when first asked for: the
        #: checker asks for the load-balanced Services' only
        self.slices: dict[tuple[str, str], list[KEndpoint]] = {}
        self._slice_data: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.webhook: bool = False
        #: Gateway API objects (hairpin.aws.gateway)
        self.gateway_objects: list[KubeObject] = []
        #: the AWS Load Balancer Controller's TargetGroupBindings (hairpin.diagnose.tgb)
        self.target_group_bindings: list[KubeObject] = []
        self.has_pods = False
        self.has_slices = False
        #: kube-proxy's mode from its ConfigMap (kube-system/kube-proxy-config on EKS, kube-proxy on
        #: kubeadm clusters); None: no ConfigMap in the input
        self.proxy_mode: str | None = None
        self.proxy_mode_from: str = ""
        self._pods_by_ns: dict[str, list[KPod]] | None = None
        #: the AWS Load Balancer Controller's flags, from its Deployment; None: not in the input
        self.lbc: controller.LbcFlags | None = None
        #: objects the API server would refuse (a Service's spec.ipFamilies values): reported, left out
        self.errors: list[InputError] = []
        #: the AWS cloud provider's cloud configs held in ConfigMaps (hairpin.aws.cloud_config), in input order
        self.cloud_configs: list[cloud_config.CloudConfig] = []
        #: what the pods and ConfigMaps show of the Services' datapath (hairpin.kube.datapath)
        self.seen = Seen()

    @property
    def pods(self) -> dict[tuple[str, str], KPod]:
        """The running or pending Pods by (namespace, name), in input order (a later one with the same key wins)."""
        if self._pods is None:
            self._pods = {}
            with paused():
                for d in self._pod_data:
                    self._add_pod(d)
            self._pod_data, self._pod_keys, self._pods_made = [], None, {}
        return self._pods

    @classmethod
    def from_objects(cls, objects: Iterable[KubeObject]) -> Cluster:
        c = cls()
        with paused():
            c._add_all(objects)
        return c

    def _add_all(self, objects: Iterable[KubeObject]) -> None:
        c = self
        pods: list[dict[str, Any]] = []  # seen after the loop, in order (Seen's pod counts depend on pods alone)
        for o in objects:
            kind = o.kind
            if kind == "Pod":
                pods.append(o.data)
                if c._pods is None:
                    c._pod_data.append(o.data)
                    c._pod_keys = None
                else:
                    c._add_pod(o.data)
                    c._pods_by_ns = None
            elif kind == "Node":
                c._add_node(o.data)
            elif kind == "Service":
                c._add_service(o)
            elif kind == "EndpointSlice":
                c._add_slice(o.data)
            elif kind == "ConfigMap":
                c._add_config_map(o.data)
                c.seen.see_config_map(o.data, PROXY_CONFIG_MAPS)
                c._add_cloud_config(o)
            elif kind == "Deployment":
                c._add_deployment(o)
            elif kind == "DaemonSet":  # the VPC CNI's, kube-system/aws-node: its pod template (hairpin.kube.datapath)
                c.seen.see_daemon_set(o.data)
            elif kind in gateway.KINDS:
                refused = gateway_crd.refusal(o)  # a value the CRD's enum refuses: the object is never stored
                if refused is not None:
                    c.errors.append(InputError(refused, o.file, o.line))
                else:
                    c.gateway_objects.append(o)
            elif kind == "TargetGroupBinding":
                c.target_group_bindings.append(o)
            elif kind == "MutatingWebhookConfiguration":
                for wh in _seq(o.data.get("webhooks")):
                    if isinstance(wh, dict) and wh.get("name") == controller.LBC_WEBHOOK:
                        c.webhook = True
            elif kind.lower() in _KINDS_BY_LOWER:
                # kinds are case-sensitive: kubectl finds no resource for "service" ('no matches for kind'), so a
                # manifest whose only Service is spelt so must not pass as "nothing at risk"
                right = _KINDS_BY_LOWER[kind.lower()]
                c.errors.append(InputError(f"kind {kind!r} is not {right!r}: kinds are case-sensitive, kubectl refuses "
                                           f'the object (no matches for kind "{kind}")', o.file, o.line))  # fmt: skip
        if pods:
            c.has_pods = True
            c.seen.see_pods(pods)

    # -- building -------------------------------------------------------------------------------
    def _add_config_map(self, d: dict[str, Any]) -> None:
        """kube-proxy's KubeProxyConfiguration: ``mode`` ("" or absent means iptables on Linux)."""
        meta = mapping_of(d.get("metadata"))
        name = str(meta.get("name") or "")
        if meta.get("namespace") != "kube-system" or name not in PROXY_CONFIG_MAPS:
            return
        for key, text in sorted(mapping_of(d.get("data")).items()):
            try:  # depth- and alias-checked: the ConfigMap is input like any file
                conf = reading.load_yaml(str(text), f"ConfigMap kube-system/{name} ({key})")
            except InputError:
                continue
            if isinstance(conf, dict) and conf.get("kind") == "KubeProxyConfiguration":
                mode = str(conf.get("mode") or "iptables").lower()
                self.proxy_mode = mode
                self.proxy_mode_from = f"ConfigMap kube-system/{name} ({key}): mode {conf.get('mode') or '(empty)'}"
                return

    def _add_cloud_config(self, o: KubeObject) -> None:
        """A ConfigMap holding the AWS cloud provider's cloud config (``hairpin.aws.cloud_config``); one that
        mentions NLBSecurityGroupMode and is not gcfg is an input error."""
        data = mapping_of(o.data.get("data"))
        if not data:
            return
        try:
            got = cloud_config.from_config_map(o.namespace, o.name, data, o.file, o.line)
        except InputError as exc:
            self.errors.append(exc)
            return
        if got is not None:
            self.cloud_configs.append(got)

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
                self.lbc = controller.lbc_flags(args, where, str(ctr.get("image") or ""))
                return

    def _add_node(self, d: dict[str, Any]) -> None:
        meta = mapping_of(d.get("metadata"))
        name = str(meta.get("name") or "")
        labels = _labels(meta)
        status = mapping_of(d.get("status"))
        ips = [str(addr.get("address")) for addr in _seq(status.get("addresses"))
               if isinstance(addr, dict) and addr.get("type") == "InternalIP"]  # fmt: skip
        ip = ips[0] if ips else None
        taints = {str(t.get("key")) for t in _seq(mapping_of(d.get("spec")).get("taints")) if isinstance(t, dict)}
        eligible = (
            not any(k in labels for k in _EXCLUDE_LABELS)
            and labels.get("eks.amazonaws.com/compute-type") != "fargate"
            and not taints.intersection(_DELETE_TAINTS)
        )
        info = mapping_of(status.get("nodeInfo"))
        spec = mapping_of(d.get("spec"))
        cidrs = [c for c in _seq(spec.get("podCIDRs")) if isinstance(c, str) and c]
        if not cidrs and isinstance(spec.get("podCIDR"), str) and spec.get("podCIDR"):
            cidrs = [spec["podCIDR"]]
        self.nodes[name] = KNode(
            name,
            ip,
            first_of(labels, ZONE_LABELS),
            labels,
            eligible,
            info.get("kubeProxyVersion") or None,
            info.get("kubeletVersion") or None,
            tuple(cidrs),
            tuple(ips),
            info["osImage"] if isinstance(info.get("osImage"), str) and info["osImage"] else None,
        )

    def pod(self, namespace: str, name: str) -> KPod | None:
        """``pods.get((namespace, name))``, the same KPod each time, without making 150,000 (1 s) for ``scenario
        from-cluster``'s few when they are not made yet: of that key's pods as read, the last ``pods`` keeps."""
        key = (namespace, name)
        if self._pods is not None:
            return self._pods.get(key)
        if self._pod_keys is None:
            self._pod_keys, self._pods_made = {}, {}
            with paused():
                for d in self._pod_data:
                    meta = mapping_of(d.get("metadata"))
                    k = (str(meta.get("namespace") or "default"), str(meta.get("name") or ""))
                    self._pod_keys.setdefault(k, []).append(d)
        if key not in self._pods_made:
            made = [p for p in map(self._kpod, self._pod_keys.get(key, ())) if p is not None]
            self._pods_made[key] = made[-1] if made else None
        return self._pods_made[key]

    def _add_pod(self, d: dict[str, Any]) -> None:
        assert self._pods is not None
        pod = self._kpod(d)
        if pod is not None:
            self._pods[(pod.namespace, pod.name)] = pod

    @staticmethod
    def _kpod(d: dict[str, Any]) -> KPod | None:
        """The Pod read, None when it is not running or pending (finished, or being deleted)."""
        meta = mapping_of(d.get("metadata"))
        spec = mapping_of(d.get("spec"))
        status = mapping_of(d.get("status"))
        if status.get("phase") in ("Succeeded", "Failed") or meta.get("deletionTimestamp"):
            return None
        ready = False
        for cond in _seq(status.get("conditions")):
            if isinstance(cond, dict) and cond.get("type") == "Ready":
                ready = cond.get("status") == "True"
                break
        else:
            ready = status.get("phase") == "Running"
        ports: dict[str, int] = {}
        for ctr in _seq(spec.get("containers")):
            for p in _seq(mapping_of(ctr).get("ports")):
                if isinstance(p, dict) and p.get("name") and isinstance(p.get("containerPort"), int):
                    ports[str(p["name"])] = int(p["containerPort"])
        return KPod(
            str(meta.get("namespace") or "default"),
            str(meta.get("name") or ""),
            status.get("podIP") or None,
            spec.get("nodeName") or None,
            _labels(meta),
            ready,
            bool(spec.get("hostNetwork")),
            ports,
            tuple(str(i["ip"]) for i in _seq(status.get("podIPs")) if isinstance(i, dict) and i.get("ip")),
        )

    def _add_service(self, o: KubeObject) -> None:
        d = o.data
        meta = mapping_of(d.get("metadata"))
        spec = mapping_of(d.get("spec"))
        hc = spec.get("healthCheckNodePort")
        families, policy = spec.get("ipFamilies"), spec.get("ipFamilyPolicy")
        refused = (_unsupported(spec) or ipfamily.refusal(families, policy, spec.get("clusterIP"), spec.get("clusterIPs"))
                   or api.source_range_refusal(spec, _labels(meta, "annotations"))
                   or api.load_balancer_class_refusal(spec))  # fmt: skip
        if refused is not None:
            self.errors.append(InputError(refused, o.file, o.line))
            return
        existing = bool(meta.get("uid") or meta.get("creationTimestamp"))
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
                existing,
                dict(o.marks or {}),
                source_ranges=tuple(str(r) for r in spec.get("loadBalancerSourceRanges") or () if isinstance(r, str)),
                ingress=_ingress(d.get("status")),
                ip_families=tuple(f for f in families if isinstance(f, str)) if isinstance(families, list) else (),
                ip_family_policy=policy if isinstance(policy, str) else None,
                cluster_ips=ipfamily.cluster_ips(spec.get("clusterIP"), spec.get("clusterIPs")),
                session_affinity=_text(spec.get("sessionAffinity")),
                load_balancer_ip=_text(spec.get("loadBalancerIP")),
                allocate_node_ports=spec.get("allocateLoadBalancerNodePorts") is not False,
                internal_traffic_policy=_text(spec.get("internalTrafficPolicy")),
                namespace_set=bool(meta.get("namespace")) or existing,
            )
        )

    def _add_slice(self, d: dict[str, Any]) -> None:
        self.has_slices = True
        meta = mapping_of(d.get("metadata"))
        svc = _labels(meta).get(SERVICE_NAME_LABEL)
        if not svc:
            return
        key = (str(meta.get("namespace") or "default"), svc)
        self.slices.pop(key, None)
        self._slice_data.setdefault(key, []).append(d)

    def _slice_endpoints(self, key: tuple[str, str]) -> list[KEndpoint] | None:
        """The endpoints of the Service ``key``'s EndpointSlices, in input order; None: it has no slice."""
        eps = self.slices.get(key)
        if eps is not None:
            return eps
        data = self._slice_data.get(key)
        if data is None:
            return None
        eps = self.slices[key] = []
        for d in data:
            self._endpoints_into(eps, d)
        return eps

    @staticmethod
    def _endpoints_into(eps: list[KEndpoint], d: dict[str, Any]) -> None:
        for ep in _seq(d.get("endpoints")):
            if not isinstance(ep, dict):
                continue
            addrs = _seq(ep.get("addresses"))
            if not addrs:
                continue
            cond = mapping_of(ep.get("conditions"))
            ref = mapping_of(ep.get("targetRef"))
            pod = ref.get("name") if ref.get("kind", "Pod") == "Pod" else None
            eps.append(KEndpoint(str(addrs[0]), ep.get("nodeName") or None, pod, cond.get("ready") is not False))

    # -- queries --------------------------------------------------------------------------------
    def kubernetes_version(self) -> tuple[int, int] | None:
        """The newest kubelet (major, minor): a lower bound of the control plane's version."""
        best: tuple[int, int] | None = None
        for n in self.nodes.values():
            v = version_of(n.kubelet_version or n.kube_proxy_version)
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
        eps = self._slice_endpoints((svc.namespace, svc.name))
        if eps is not None:
            out = []
            for e in eps:
                node = e.node
                if node is None and e.pod is not None:
                    p = self.pod(svc.namespace, e.pod)
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
