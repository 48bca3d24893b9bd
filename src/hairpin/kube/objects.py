"""What hairpin keeps of each Kubernetes object it reads (a node, a pod, a Service, an endpoint), and the readers
of an object's fields that take anything else the input holds there as absent (a list, a string, a mapping, labels,
``status.loadBalancer.ingress``) and of Kubernetes version strings.  ``hairpin.kube.cluster`` fills these from
manifests, dumps and the API server, and re-exports them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["KEndpoint", "KNode", "KPod", "KService", "first_of", "ingress_of", "labels_of", "list_of", "mapping_of", "text_of",
           "version_of"]  # fmt: skip


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


def list_of(value: Any) -> list[Any]:
    """A list field of an object, or no items when the input holds anything else there."""
    return value if isinstance(value, list) else []


def text_of(value: Any) -> str:
    """A string field of an object, or "" when the input holds anything else there."""
    return value if isinstance(value, str) else ""


def mapping_of(value: Any) -> dict[str, Any]:
    """A mapping field of an object, or an empty one when the input holds anything else there."""
    return value if isinstance(value, dict) else {}


def labels_of(meta: dict[str, Any], key: str = "labels") -> dict[str, str]:
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


def ingress_of(status: Any) -> tuple[tuple[str | None, str | None, str | None], ...]:
    lb = status.get("loadBalancer") if isinstance(status, dict) else None
    items = lb.get("ingress") if isinstance(lb, dict) else None
    out = []
    for i in items if isinstance(items, list) else ():
        if isinstance(i, dict):
            ip, host, mode = i.get("ip"), i.get("hostname"), i.get("ipMode")
            out.append(tuple(str(x) if isinstance(x, str) and x else None for x in (ip, host, mode)))
    return tuple(out)  # type: ignore[arg-type]
