"""Who translates a cluster's Services: kube-proxy, or an eBPF datapath hairpin does not model.

hairpin's risk model (``hairpin.aws.risk``, ``hairpin.diagnose.check``) is kube-proxy's NAT (iptables, IPVS or
nftables) on the caller's node with the AWS VPC CNI's routes.  Some clusters translate Services elsewhere: Cilium
with kube-proxy replacement (its eBPF programs translate ClusterIPs at connect() and NodePorts on the node's
devices), Calico's eBPF dataplane (Felix's BPF programs), or something else with no kube-proxy at all.  This
module reads, from what a dump or a live read already holds, which of these the input shows
(``Seen``, filled object by object by ``hairpin.kube.cluster.Cluster``) and what ``hairpin check`` says about
it (``assess``).  What it knows, and where from:

- kube-proxy's pods carry the label ``k8s-app=kube-proxy`` (kubeadm's DaemonSet, kubernetes/kubernetes
  ``cmd/kubeadm/app/phases/addons/proxy/manifests.go`` ``KubeProxyDaemonSet19``; EKS's kube-proxy add-on uses the
  same label), or run an image named ``kube-proxy`` (``registry.k8s.io/kube-proxy``, EKS's ``eks/kube-proxy``);
  its ConfigMaps are ``hairpin.kube.cluster.PROXY_CONFIG_MAPS``.
- kube-proxy's image tag (``registry.k8s.io/kube-proxy:v1.33.1``, EKS's ``eks/kube-proxy:v1.33.0-minimal-eksbuild.1``)
  is its release, and the only sure word of it in the input: ``status.nodeInfo.kubeProxyVersion`` is written by
  the kubelet, with the kubelet's own version (kubernetes/kubernetes ``pkg/kubelet/nodestatus/setters.go``
  ``VersionInfo``: "kube-proxy might be different version from kubelet"), and kubelets of 1.33 and later leave
  it empty (feature gate DisableNodeKubeProxyVersion, on by default from 1.33, ``pkg/features/kube_features.go``;
  KEP-4004).
- Cilium's agent pods carry ``k8s-app=cilium`` and run the image ``cilium/cilium`` in the container
  ``cilium-agent`` (cilium/cilium ``install/kubernetes/cilium/templates/cilium-agent/daemonset.yaml``), which
  reads its settings from the ConfigMap ``cilium-config`` (``--config-dir=/tmp/cilium/config-map``; the
  chart's ``templates/cilium-configmap.yaml`` writes ``kube-proxy-replacement`` there, in the release's
  namespace, usually kube-system).  The values: ``"true"`` and ``"false"`` (the chart refuses any other since
  Cilium 1.14: "kubeProxyReplacement must be explicitly set to a valid value (true or false)"), and before them
  ``strict`` (every replacement feature), ``probe`` (each feature the kernel supports), ``partial`` (the
  features turned on one by one) and ``disabled`` (cilium/cilium ``pkg/option/config.go``
  ``KubeProxyReplacementStrict``/``Probe``/``Partial``/``Disabled``, ``daemon/cmd/kube_proxy_replacement.go``).
  hairpin takes ``true``, ``strict``, ``probe`` and ``partial`` as on, ``false`` and ``disabled`` as off, any
  other value as unknown.  The agent's own flag ``--kube-proxy-replacement`` and its environment variable
  ``CILIUM_KUBE_PROXY_REPLACEMENT`` (``pkg/option/config.go`` ``getEnvName``: ``CILIUM_`` and the option's
  name in capitals, ``-`` as ``_``) win over the ConfigMap, flag first (viper's order: flag, environment,
  config file).
- calico-node's pods carry ``k8s-app=calico-node`` (projectcalico/calico's manifests and the Tigera operator's
  ``calico-system`` DaemonSet); Felix runs the eBPF dataplane when ``BPFEnabled`` is true, given as the
  environment variable ``FELIX_BPFENABLED`` on the ``calico-node`` container (projectcalico/calico
  ``felix/config/config_params.go`` ``BPFEnabled``, default false; ``felix/config/param_types.go``
  ``BoolParam.Parse``: ``true``, ``1``, ``yes``, ``y``, ``t`` in any case).  In eBPF mode Felix translates
  Services itself and by default removes kube-proxy's iptables rules (``BPFKubeProxyIptablesCleanupEnabled``,
  default true), so kube-proxy pods beside it do not make the verdicts modelled.  ``spec.bpfEnabled`` of a
  FelixConfiguration is not in the input: without the environment variable hairpin cannot tell.
- the AWS VPC CNI's pods carry ``k8s-app=aws-node`` (aws/amazon-vpc-cni-k8s ``config/master/aws-k8s-cni.yaml``);
  their ``aws-node`` container runs the image ``.../amazon-k8s-cni:v1.NN.P[-eksbuild.N]``, whose tag is the
  release (``hairpin scenario from-cluster`` takes ``cni.version`` from it), and whose environment says its
  address family (``hairpin.kube.cni_mode``: every aws-node pod's is read, and the pod template of the DaemonSet
  kube-system/aws-node when the input holds it; the pods win for the release, the template stands in when the
  input holds no aws-node pod, and any disagreement on the environment is said).

A pod outside kube-system is looked at only for its ``k8s-app`` label (one of the four above), its images and
environment only when it has one: the 150,000 application pods of a large dump cost one dictionary look each.

What is absent means something only when the input holds kube-system's pods: a dump filtered to a few
namespaces shows no kube-proxy pod whatever runs, so hairpin then infers nothing from absence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hairpin.aws.lbc_flags import image_tag, untagged
from hairpin.kube.cni_mode import ENV, INIT, INIT_IPV6, NO_INIT, TEMPLATE, CniMode, CniSettings, cni_settings
from hairpin.kube.cni_snat import Snat, snat_settings
from hairpin.text import shown

__all__ = ["AWS_NODE", "CILIUM_CONFIG", "Datapath", "Seen", "assess", "kpr_state"]

#: Cilium's ConfigMap and the key that turns its kube-proxy replacement on (install/kubernetes/cilium/templates/
#: cilium-configmap.yaml)
CILIUM_CONFIG = "cilium-config"
#: the VPC CNI's DaemonSet (namespace, name): aws/amazon-vpc-cni-k8s ``config/master/aws-k8s-cni.yaml``
AWS_NODE = ("kube-system", "aws-node")
KPR_KEY = "kube-proxy-replacement"
KPR_FLAG = "--" + KPR_KEY
KPR_ENV = "CILIUM_KUBE_PROXY_REPLACEMENT"
#: Felix's environment variable for BPFEnabled, and the strings its BoolParam reads as true
FELIX_BPF_ENV = "FELIX_BPFENABLED"
_FELIX_TRUE = ("true", "1", "yes", "y", "t")
_KPR_ON = ("true", "strict", "probe", "partial")
_KPR_OFF = ("false", "disabled")
_APP_LABEL = "k8s-app"
#: the k8s-app labels of the DaemonSets looked for; their images are only looked at in kube-system
_APPS = frozenset({"kube-proxy", "cilium", "calico-node", "aws-node"})


def kpr_state(value: str | None) -> bool | None:
    """Whether a ``kube-proxy-replacement`` value turns Cilium's replacement on (None: not a value Cilium knows)."""
    if value is None:
        return None
    v = value.strip().lower()
    return True if v in _KPR_ON else False if v in _KPR_OFF else None


def _image_name(image: Any) -> str:
    """The last path component of an image reference, without tag or digest: ``kube-proxy`` for
    ``602401143452.dkr.ecr.eu-west-1.amazonaws.com/eks/kube-proxy:v1.29.0-minimal-eksbuild.1``."""
    if not isinstance(image, str):
        return ""
    ref = image.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    return last.split(":", 1)[0]


def _map(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _flag(args: list[str]) -> str | None:
    """The value of ``--kube-proxy-replacement`` in an argument list (``=VALUE`` or the next argument); the last wins."""
    got = None
    for i, a in enumerate(args):
        if a.startswith(KPR_FLAG + "="):
            got = a.split("=", 1)[1]
        elif a == KPR_FLAG and i + 1 < len(args):
            got = args[i + 1]
    return got


def _cni_image(ctrs: list[dict[str, Any]]) -> Any:
    """The image of the first ``amazon-k8s-cni`` container, None without one."""
    return next((c.get("image") for c in ctrs if _image_name(c.get("image")) == "amazon-k8s-cni"), None)


def _cni_tag(ctrs: list[dict[str, Any]]) -> str:
    """The image tag of the first ``amazon-k8s-cni`` container (``hairpin.aws.lbc_flags.image_tag``), shown as a
    report line may hold it; "" without one (a digest only, ``registry:5000/amazon-k8s-cni``)."""
    tag = image_tag(_cni_image(ctrs))
    return shown(tag) if tag else ""


def _env(ctr: dict[str, Any], name: str) -> str | None:
    """A container's environment variable given as a literal ``value`` (one taken from elsewhere is unknown)."""
    for e in _list(ctr.get("env")):
        if isinstance(e, dict) and e.get("name") == name and isinstance(e.get("value"), str):
            return str(e["value"])
    return None


def _cni_env(ctr: dict[str, Any], spec: dict[str, Any]) -> dict[str, str | None]:
    """The aws-node container's ``ENV`` variables, and whether the pod (or template) ``spec`` has the init container
    aws-vpc-cni-init and its ENABLE_IPv6, or none at all (``hairpin.kube.cni_mode`` INIT, INIT_IPV6, NO_INIT)."""
    env = _env_values(ctr, ENV)
    inits = _list(spec.get("initContainers"))
    if not inits:
        env[NO_INIT] = ""
    init = next((c for c in inits if isinstance(c, dict) and c.get("name") == INIT), None)
    if init is not None:
        env[INIT] = ""
        init_env = _env_values(init, ("ENABLE_IPv6",))
        if "ENABLE_IPv6" in init_env:
            env[INIT_IPV6] = init_env["ENABLE_IPv6"]
    return env


def _env_values(ctr: dict[str, Any], names: tuple[str, ...]) -> dict[str, str | None]:
    """The container's variables among ``names`` that it sets: the literal value, or None (valueFrom); the last
    entry of a name wins, as the kubelet builds the environment in order."""
    out: dict[str, str | None] = {}
    for e in _list(ctr.get("env")):
        if isinstance(e, dict) and e.get("name") in names:
            value = e.get("value")
            out[str(e["name"])] = value if isinstance(value, str) else ("" if "valueFrom" not in e else None)
    return out


@dataclass
class Seen:
    """What the input shows of the Services' datapath: pods counted by kind, and the settings that decide it."""

    #: running or pending pods in kube-system (0: the input holds none, so absence says nothing)
    kube_system_pods: int = 0
    kube_proxy_pods: int = 0
    cilium_pods: int = 0
    calico_pods: int = 0
    aws_node_pods: int = 0
    #: the image tag of each aws-node pod's ``amazon-k8s-cni`` container, with the pod (``ns/name``), in input order
    aws_node_tags: list[tuple[str, str]] = field(default_factory=list)
    #: the image tag of each kube-proxy pod's ``kube-proxy`` container, with the pod (``ns/name``), in input order
    kube_proxy_tags: list[tuple[str, str]] = field(default_factory=list)
    #: kube-proxy and aws-node pods whose image has no tag: why ("a digest only", "no tag"), with the pod
    kube_proxy_untagged: list[tuple[str, str]] = field(default_factory=list)
    aws_node_untagged: list[tuple[str, str]] = field(default_factory=list)
    #: calico-node pods whose calico-node container has FELIX_BPFENABLED true, and the first of them
    calico_bpf_pods: int = 0
    calico_bpf_from: str = ""
    #: kube-proxy-replacement from a Cilium agent's flag or environment (first agent that gives it), and where
    kpr_agent: str | None = None
    kpr_agent_from: str = ""
    #: kube-proxy-replacement from the cilium-config ConfigMap, and where
    kpr_config: str | None = None
    kpr_config_from: str = ""
    #: kube-proxy's ConfigMaps in the input (``namespace/name``)
    proxy_config_maps: list[str] = field(default_factory=list)
    #: each aws-node pod's ``aws-node`` container, in input order: where, and its ``cni_mode.ENV`` variables (None:
    #: valueFrom)
    cni_envs: list[tuple[str, dict[str, str | None]]] = field(default_factory=list)
    #: the same of the pod template of the DaemonSet kube-system/aws-node, when the input holds it (the last wins)
    cni_template: tuple[str, dict[str, str | None]] | None = None
    #: the template's ``amazon-k8s-cni`` image tag ("" without one)
    cni_template_tag: str = ""

    def see_pods(self, pods: list[dict[str, Any]]) -> None:
        """``see_pod`` of each pod in turn; an application pod outside kube-system (most of a large cluster's)
        is passed over here by the same test ``see_pod`` makes first, without a call."""
        see, apps, key = self.see_pod, _APPS, _APP_LABEL
        for d in pods:
            meta = d.get("metadata")
            if not isinstance(meta, dict):
                continue  # (see_pod: no namespace, no labels)
            if meta.get("namespace") != "kube-system":
                labels = meta.get("labels")
                if not isinstance(labels, dict) or labels.get(key) not in apps:
                    continue
            see(d)

    def see_pod(self, d: dict[str, Any]) -> None:
        meta = _map(d.get("metadata"))
        labels = meta.get("labels")
        if meta.get("namespace") != "kube-system" and (
                not isinstance(labels, dict) or labels.get(_APP_LABEL) not in _APPS):  # fmt: skip
            return  # the application pods of a large cluster, outside kube-system: one look at their label
        status = _map(d.get("status"))
        if status.get("phase") in ("Succeeded", "Failed") or meta.get("deletionTimestamp"):
            return  # as hairpin.kube.cluster reads pods: a finished or deleted pod runs nothing
        ns = shown(str(meta.get("namespace") or "default"))
        name = shown(str(meta.get("name") or ""))
        if ns == "kube-system":
            self.kube_system_pods += 1
        labels = _map(meta.get("labels"))
        app = labels.get(_APP_LABEL)
        ctrs = [c for c in _list(_map(d.get("spec")).get("containers")) if isinstance(c, dict)]
        images = [_image_name(c.get("image")) for c in ctrs]
        if app == "kube-proxy" or "kube-proxy" in images:
            self.kube_proxy_pods += 1
            image = next((c.get("image") for c in ctrs if _image_name(c.get("image")) == "kube-proxy"), None)
            tag = image_tag(image)
            if tag:
                self.kube_proxy_tags.append((shown(tag), f"{ns}/{name}"))
            elif isinstance(image, str):
                self.kube_proxy_untagged.append((untagged(image), f"{ns}/{name}"))
        elif app == "cilium" or "cilium" in images:
            self.cilium_pods += 1
            if self.kpr_agent is None:
                self._cilium_agent(ns, name, ctrs)
        elif app == "calico-node":
            self.calico_pods += 1
            ctr = next((c for c in ctrs if c.get("name") == "calico-node"), None)
            value = _env(ctr, FELIX_BPF_ENV) if ctr is not None else None
            if value is not None and value.strip().lower() in _FELIX_TRUE:
                self.calico_bpf_pods += 1
                if not self.calico_bpf_from:
                    self.calico_bpf_from = f"{FELIX_BPF_ENV}={shown(value)} on calico-node in pod {ns}/{name}"
        elif app == "aws-node":
            self.aws_node_pods += 1
            tag = _cni_tag(ctrs)
            if tag:
                self.aws_node_tags.append((tag, f"{ns}/{name}"))
            elif isinstance(image := _cni_image(ctrs), str):  # a digest alone, :latest...: said, not taken for 1.7
                self.aws_node_untagged.append((untagged(image), f"{ns}/{name}"))
            ctr = next((c for c in ctrs if c.get("name") == "aws-node"), None)
            if ctr is not None:
                self.cni_envs.append((f"aws-node in pod {ns}/{name}", _cni_env(ctr, _map(d.get("spec")))))

    def see_daemon_set(self, d: dict[str, Any]) -> None:
        """The DaemonSet kube-system/aws-node's pod template: its ``aws-node`` container's environment and image tag,
        and its init container aws-vpc-cni-init's ENABLE_IPv6 (aws/amazon-vpc-cni-k8s
        ``config/master/aws-k8s-cni.yaml``); any other DaemonSet is passed over."""
        meta = _map(d.get("metadata"))
        if (meta.get("namespace"), meta.get("name")) != AWS_NODE:
            return
        spec = _map(_map(_map(d.get("spec")).get("template")).get("spec"))
        ctrs = [c for c in _list(spec.get("containers")) if isinstance(c, dict)]
        ctr = next((c for c in ctrs if c.get("name") == "aws-node"), None)
        self.cni_template = (TEMPLATE, _cni_env(ctr, spec)) if ctr is not None else None
        self.cni_template_tag = _cni_tag(ctrs)

    def _cilium_agent(self, ns: str, name: str, ctrs: list[dict[str, Any]]) -> None:
        for c in ctrs:
            if c.get("name") != "cilium-agent" and _image_name(c.get("image")) != "cilium":
                continue
            args = [str(a) for a in [*_list(c.get("command"))[1:], *_list(c.get("args"))] if isinstance(a, str)]
            flag = _flag(args)
            if flag is not None:
                self.kpr_agent, self.kpr_agent_from = flag, f"{KPR_FLAG}={shown(flag)} on {shown(str(c.get('name')))} in pod {ns}/{name}"
                return
            env = _env(c, KPR_ENV)
            if env is not None:
                self.kpr_agent, self.kpr_agent_from = env, f"{KPR_ENV}={shown(env)} on {shown(str(c.get('name')))} in pod {ns}/{name}"
                return

    def see_config_map(self, d: dict[str, Any], proxy_names: tuple[str, ...]) -> None:
        meta = _map(d.get("metadata"))
        ns, name = shown(str(meta.get("namespace") or "default")), shown(str(meta.get("name") or ""))
        if ns == "kube-system" and name in proxy_names:
            self.proxy_config_maps.append(f"{ns}/{name}")
        if name == CILIUM_CONFIG:
            value = _map(d.get("data")).get(KPR_KEY)
            if isinstance(value, str):
                self.kpr_config, self.kpr_config_from = value, f"ConfigMap {ns}/{name} {KPR_KEY}: {shown(value)}"

    @property
    def cni(self) -> CniSettings:
        """The VPC CNI's settings as every aws-node pod and the DaemonSet's template give them
        (``hairpin.kube.cni_mode.cni_settings``)."""
        return cni_settings(self.cni_envs, self.cni_template)

    @property
    def cni_snat(self) -> Snat | None:
        """The VPC CNI's SNAT settings from the same sources (``hairpin.kube.cni_snat``)."""
        return snat_settings(self.cni_envs, self.cni_template)

    @property
    def cni_mode(self) -> CniMode | None:
        """The VPC CNI's family as the aws-node sources agree on it; None when not given or they disagree."""
        return self.cni.mode

    @property
    def kpr(self) -> tuple[str | None, str]:
        """kube-proxy-replacement as the agent reads it, and where from: its flag or environment, else the ConfigMap."""
        if self.kpr_agent is not None:
            return self.kpr_agent, self.kpr_agent_from
        return self.kpr_config, self.kpr_config_from


@dataclass(frozen=True)
class Datapath:
    """What ``hairpin check`` says of the cluster's Services' datapath.  ``modelled`` False: the Services' NAT is
    not kube-proxy's, the verdicts are not modelled; True: kube-proxy's NAT, with eBPF programs beside it."""

    kind: str  # "cilium-kube-proxy-replacement" | "calico-ebpf" | "no-kube-proxy" | "ebpf-beside-kube-proxy"
    modelled: bool
    #: the datapath in a few words, for the report's first line
    short: str
    #: what the input shows, one item each
    seen: tuple[str, ...]
    message: str

    def line(self) -> str:
        """The line of the text report, under its first."""
        return f"{'note' if self.modelled else 'warning'}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "modelled": self.modelled, "seen": list(self.seen), "message": self.message}


def _n(count: int, what: str) -> str:
    return f"{count} {what} pod{'' if count == 1 else 's'}"


ASSUMED = "which hairpin does not model; the verdicts below assume kube-proxy's NAT"


def _proxy_seen(s: Seen) -> list[str]:
    if s.kube_proxy_pods:
        return [_n(s.kube_proxy_pods, "kube-proxy")]
    return ["no kube-proxy pods"] if s.kube_system_pods else []


def assess(s: Seen) -> Datapath | None:
    """What to say of the datapath ``s`` shows; None: nothing (kube-proxy's NAT, or the input cannot tell)."""
    value, where = s.kpr
    kpr = kpr_state(value)
    if kpr and (s.cilium_pods or s.kpr_config is not None):
        seen = (where, *_proxy_seen(s))
        return Datapath("cilium-kube-proxy-replacement", False, "Cilium's kube-proxy replacement", seen,
                        f"this cluster runs Cilium with kube-proxy replacement ({'; '.join(seen)}): its eBPF "
                        f"datapath translates Services, {ASSUMED}")  # fmt: skip
    if s.calico_bpf_pods:
        seen = (s.calico_bpf_from, *_proxy_seen(s))
        return Datapath("calico-ebpf", False, "Calico's eBPF dataplane", seen,
                        f"this cluster runs Calico's eBPF dataplane ({'; '.join(seen)}): Felix's BPF programs "
                        f"translate Services, {ASSUMED}")  # fmt: skip
    no_proxy = s.kube_system_pods > 0 and s.kube_proxy_pods == 0
    if no_proxy and s.cilium_pods and kpr is None:
        said = where if value is not None else f"no {KPR_KEY} setting in the input"
        seen = (_n(s.cilium_pods, "Cilium agent"), said, "no kube-proxy pods")
        return Datapath("cilium-kube-proxy-replacement", False, "Cilium without kube-proxy", seen,
                        f"this cluster runs Cilium and no kube-proxy ({'; '.join(seen)}): Cilium's eBPF datapath "
                        f"then translates Services (kube-proxy replacement), {ASSUMED}")  # fmt: skip
    agents = [x for x in (_n(s.cilium_pods, "Cilium agent") if s.cilium_pods else "",
                          _n(s.calico_pods, "calico-node") if s.calico_pods else "",
                          _n(s.aws_node_pods, "aws-node") if s.aws_node_pods else "") if x]  # fmt: skip
    if no_proxy and agents and not s.proxy_config_maps:
        if s.cilium_pods and value is not None:
            agents.append(where)
        seen = (*agents, f"no kube-proxy pods among kube-system's {s.kube_system_pods}", "no kube-proxy ConfigMap")
        return Datapath("no-kube-proxy", False, "no kube-proxy", seen,
                        f"this cluster shows no kube-proxy ({'; '.join(seen)}): something else translates its "
                        f"Services, {ASSUMED}")  # fmt: skip
    if s.cilium_pods and s.kube_proxy_pods:
        seen = (
            _n(s.cilium_pods, "Cilium agent"),
            *([where] if value is not None else []),
            _n(s.kube_proxy_pods, "kube-proxy"),
        )
        return Datapath("ebpf-beside-kube-proxy", True, "Cilium beside kube-proxy", seen,
                        f"Cilium runs beside kube-proxy ({'; '.join(seen)}): its eBPF programs on the nodes' devices "
                        "may route packets past netfilter; the verdicts below assume kube-proxy's NAT")  # fmt: skip
    return None
