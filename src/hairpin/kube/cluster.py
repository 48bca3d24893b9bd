"""Kubernetes objects as a cluster hairpin can reason about.

``Cluster.from_objects(objects)`` keeps what the data path depends on, from Nodes, Pods, Services,
EndpointSlices and MutatingWebhookConfigurations (parsed manifests, ``kubectl get -o json|yaml`` dumps,
or ``live_objects()`` from the API server):

- a node's AZ is its ``topology.kubernetes.io/zone`` label (older clusters:
  ``failure-domain.beta.kubernetes.io/zone``); its address the ``InternalIP`` in ``status.addresses``;
- a pod's address is ``status.podIP`` (every address: ``status.podIPs``), its node ``spec.nodeName``; it is
  ready when its ``Ready`` condition is True; a node's pod networks are ``spec.podCIDRs`` (else ``podCIDR``);
- a Service's ``spec.ipFamilies`` and ``spec.ipFamilyPolicy`` are kept as written; values the API server
  refuses (``hairpin.aws.ipfamily.refusal``; source ranges, ``loadBalancerClass`` and ``spec.ports``:
  ``hairpin.kube.apivalidation``) leave the Service out with an input error in ``errors``;
- a Service, Node or Pod with neither ``metadata.name`` nor ``metadata.generateName`` is left out with an input
  error (the API server's ``ValidateObjectMeta``: "name or generateName is required");
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
from typing import Any

from hairpin import reading
from hairpin.aws import cloud_config, controller, gateway, gateway_crd, ipfamily
from hairpin.errors import InputError
from hairpin.gcpause import paused
from hairpin.kube import apivalidation as api
from hairpin.kube.datapath import Seen
from hairpin.kube.objects import KEndpoint as KEndpoint
from hairpin.kube.objects import KNode as KNode
from hairpin.kube.objects import KPod as KPod
from hairpin.kube.objects import KService as KService
from hairpin.kube.objects import first_of as first_of
from hairpin.kube.objects import ingress_of, labels_of, list_of, text_of
from hairpin.kube.objects import mapping_of as mapping_of
from hairpin.kube.objects import version_of as version_of
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


#: the kinds whose objects are left out, with an input error, when they have neither ``metadata.name`` nor
#: ``metadata.generateName``, which the API server refuses (apimachinery ``pkg/api/validation/objectmeta.go``
#: ``ValidateObjectMeta``, the same from 1.28 to 1.35: "name or generateName is required").  A manifest with
#: generateName alone is taken (``kubectl create`` makes the name); a ``kubectl get`` dump never lacks a name, so an
#: object without one is from a cut or edited dump.
_NAMED = frozenset(("Service", "Node", "Pod"))


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
        unnamed: list[tuple[int, KubeObject]] = []  # (its error's index, the object)
        for o in objects:
            kind = o.kind
            meta = o.data.get("metadata")  # told inline: a call for each of a dump's Pods would cost more
            if kind in _NAMED and not (type(meta) is dict and (meta.get("name") or meta.get("generateName"))):
                unnamed.append((len(c.errors), o))
                c.errors.append(InputError(f"metadata.name: Required value: name or generateName is required: the API "
                                           f"server refuses the {kind}", o.file, o.line))  # fmt: skip
                continue
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
                for wh in list_of(o.data.get("webhooks")):
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
        if unnamed and isinstance(objects, Sequence):
            self._place_unnamed(objects, unnamed)

    def _place_unnamed(self, objects: Sequence[KubeObject], unnamed: list[tuple[int, KubeObject]]) -> None:
        """Each unnamed object's error told by its place among the objects read at its line, when there are more:
        the items of a List written on one line all sit at that line (and come one after another)."""
        wanted = {id(o): i for i, o in unnamed}
        for k, o in enumerate(objects):
            i = wanted.get(id(o))
            if i is None or o.line is None:
                continue
            first = last = k
            while first > 0 and (objects[first - 1].line, objects[first - 1].file) == (o.line, o.file):
                first -= 1
            while last + 1 < len(objects) and (objects[last + 1].line, objects[last + 1].file) == (o.line, o.file):
                last += 1
            if last > first:
                e = self.errors[i]
                self.errors[i] = InputError(f"{e.message} (object {k - first + 1} of the {last - first + 1} read at "
                                            "this line)", e.file, e.line)  # fmt: skip

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
            command = [str(a) for a in list_of(ctr.get("command")) if isinstance(a, str | int | float)]
            args = command[1:] + [str(a) for a in list_of(ctr.get("args")) if isinstance(a, str | int | float)]
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
        labels = labels_of(meta)
        status = mapping_of(d.get("status"))
        ips = [str(addr.get("address")) for addr in list_of(status.get("addresses"))
               if isinstance(addr, dict) and addr.get("type") == "InternalIP"]  # fmt: skip
        ip = ips[0] if ips else None
        taints = {str(t.get("key")) for t in list_of(mapping_of(d.get("spec")).get("taints")) if isinstance(t, dict)}
        eligible = (
            not any(k in labels for k in _EXCLUDE_LABELS)
            and labels.get("eks.amazonaws.com/compute-type") != "fargate"
            and not taints.intersection(_DELETE_TAINTS)
        )
        info = mapping_of(status.get("nodeInfo"))
        spec = mapping_of(d.get("spec"))
        cidrs = [c for c in list_of(spec.get("podCIDRs")) if isinstance(c, str) and c]
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
        for cond in list_of(status.get("conditions")):
            if isinstance(cond, dict) and cond.get("type") == "Ready":
                ready = cond.get("status") == "True"
                break
        else:
            ready = status.get("phase") == "Running"
        ports: dict[str, int] = {}
        for ctr in list_of(spec.get("containers")):
            for p in list_of(mapping_of(ctr).get("ports")):
                if isinstance(p, dict) and p.get("name") and isinstance(p.get("containerPort"), int):
                    ports[str(p["name"])] = int(p["containerPort"])
        return KPod(
            str(meta.get("namespace") or "default"),
            str(meta.get("name") or ""),
            status.get("podIP") or None,
            spec.get("nodeName") or None,
            labels_of(meta),
            ready,
            bool(spec.get("hostNetwork")),
            ports,
            tuple(str(i["ip"]) for i in list_of(status.get("podIPs")) if isinstance(i, dict) and i.get("ip")),
        )

    def _add_service(self, o: KubeObject) -> None:
        d = o.data
        meta = mapping_of(d.get("metadata"))
        spec = mapping_of(d.get("spec"))
        hc = spec.get("healthCheckNodePort")
        families, policy = spec.get("ipFamilies"), spec.get("ipFamilyPolicy")
        refused = (_unsupported(spec) or ipfamily.refusal(families, policy, spec.get("clusterIP"), spec.get("clusterIPs"))
                   or api.source_range_refusal(spec, labels_of(meta, "annotations"))
                   or api.load_balancer_class_refusal(spec) or api.ports_refusal(spec))  # fmt: skip
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
                [p for p in list_of(spec.get("ports")) if isinstance(p, dict)],
                labels_of(spec, "selector"),
                str(spec.get("externalTrafficPolicy") or "Cluster"),
                spec.get("loadBalancerClass") or None,
                labels_of(meta, "annotations"),
                hc if isinstance(hc, int) else None,
                o.file,
                o.line,
                existing,
                dict(o.marks or {}),
                source_ranges=tuple(str(r) for r in spec.get("loadBalancerSourceRanges") or () if isinstance(r, str)),
                ingress=ingress_of(d.get("status")),
                ip_families=tuple(f for f in families if isinstance(f, str)) if isinstance(families, list) else (),
                ip_family_policy=policy if isinstance(policy, str) else None,
                cluster_ips=ipfamily.cluster_ips(spec.get("clusterIP"), spec.get("clusterIPs")),
                session_affinity=text_of(spec.get("sessionAffinity")),
                load_balancer_ip=text_of(spec.get("loadBalancerIP")),
                allocate_node_ports=spec.get("allocateLoadBalancerNodePorts") is not False,
                internal_traffic_policy=text_of(spec.get("internalTrafficPolicy")),
                namespace_set=bool(meta.get("namespace")) or existing,
            )
        )

    def _add_slice(self, d: dict[str, Any]) -> None:
        self.has_slices = True
        meta = mapping_of(d.get("metadata"))
        svc = labels_of(meta).get(SERVICE_NAME_LABEL)
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
        for ep in list_of(d.get("endpoints")):
            if not isinstance(ep, dict):
                continue
            addrs = list_of(ep.get("addresses"))
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
