"""The live cluster's Kubernetes version, from the API server's ``/version`` (``gitVersion``), and kube-proxy's.

Read-only; a cluster that refuses the call (RBAC, an old proxy) yields None and the checker falls back
to the nodes' kubelet versions, a lower bound of the control plane's (the version skew policy lets
kubelets lag the API server).

kube-proxy's release (``kube_proxy_version``) is its pods' image tag when the input holds them
(``hairpin.kube.datapath.Seen.kube_proxy_tags``).  The nodes' ``status.nodeInfo.kubeProxyVersion`` comes second:
the kubelet writes it with its own version (kubernetes/kubernetes ``pkg/kubelet/nodestatus/setters.go``
``VersionInfo``), so it is kube-proxy's only where the two run the same release, and kubelets of 1.33 and later
leave it empty (feature gate DisableNodeKubeProxyVersion: alpha in 1.29, on by default from 1.33,
``pkg/features/kube_features.go`` at b0b89d3b; KEP-4004 "Deprecate the kubeProxyVersion field of v1.Node").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hairpin.aws.cloud_provider import Version, parse_version
from hairpin.kube.answers import Budget
from hairpin.kube.cluster import Cluster, version_of
from hairpin.text import shown

__all__ = ["ProxyVersion", "kube_proxy_version", "live_server_version", "scenario_kube_proxy_version"]

#: the first release whose kubelets leave status.nodeInfo.kubeProxyVersion empty by default
KUBE_PROXY_VERSION_EMPTY_FROM = (1, 33)


@dataclass(frozen=True)
class ProxyVersion:
    """The oldest kube-proxy's (major, minor), and where it was read."""

    version: tuple[int, int]
    source: str


def kube_proxy_version(cluster: Cluster) -> ProxyVersion | None:
    """The oldest kube-proxy release the input shows: its pods' image tags, else the nodes' kubeProxyVersion
    (the kubelet's own version); None when neither says one."""
    tags = [(v, tag, pod) for tag, pod in cluster.seen.kube_proxy_tags if (v := version_of(tag)) is not None]
    if tags:
        v, tag, pod = min(tags)
        return ProxyVersion(v, f"the image tag {tag} of kube-proxy pod {pod}")
    nodes = [(v, shown(str(n.kube_proxy_version)), shown(n.name)) for n in cluster.nodes.values()
             if (v := version_of(n.kube_proxy_version)) is not None]  # fmt: skip
    if nodes:
        v, raw, name = min(nodes)
        return ProxyVersion(v, f"status.nodeInfo.kubeProxyVersion {raw} of node {name}, which the kubelet writes "
                               "with its own version")  # fmt: skip
    return None


def scenario_kube_proxy_version(c: Cluster, kp: ProxyVersion | None, mode: str, notes: list[str]) -> str:
    """``kube_proxy.version`` for ``hairpin scenario from-cluster``, with a note saying where it came from: ``kp``
    (``kube_proxy_version``), else, when every kubelet is 1.33 or later (so kubeProxyVersion is empty), the oldest
    kubelet's release (the version skew policy keeps kube-proxy at most three minors below the API server, which
    is not older than any kubelet; EKS's kube-proxy add-on follows the cluster's release), else the first layout
    modelled for the mode."""
    if kp is not None:
        version = f"{kp.version[0]}.{kp.version[1]}"
        notes.append(f"kube-proxy {version} from {kp.source}")
        return version
    kubelets = sorted((v, shown(n.name)) for n in c.nodes.values() if (v := version_of(n.kubelet_version)) is not None)
    if kubelets and kubelets[0][0] >= KUBE_PROXY_VERSION_EMPTY_FROM:
        (major, minor), name = kubelets[0]
        notes.append(f"kube-proxy version not in the input (no kube-proxy pod with an image tag; kubelets leave "
                     f"status.nodeInfo.kubeProxyVersion empty from 1.33): {major}.{minor}, the oldest kubelet's "
                     f"(node {name}), assumed")  # fmt: skip
        return f"{major}.{minor}"
    version = "1.30" if mode == "nftables" else "1.29"  # nftables: the first modelled layout
    notes.append(f"kube-proxy version unknown (no kube-proxy pod with an image tag, no node "
                 f"status.nodeInfo.kubeProxyVersion): {version} assumed")  # fmt: skip
    return version


def live_server_version(kubeconfig: str | None = None, context: str | None = None) -> tuple[Version, str] | None:
    """(version, 'the API server's /version: v1.33.4-eks-...') or None when the server does not say."""
    from hairpin.kube.live import api_client

    api = api_client(kubeconfig, context)
    from kubernetes import client

    try:
        resp: Any = client.VersionApi(api).get_code(_preload_content=False)
        data = Budget("/version", 1 << 20).json(resp, "reading /version")  # a version is a few hundred bytes
        git = str(data.get("gitVersion") or "")
        return parse_version(git, "/version"), f"the API server's /version: {git}"
    except Exception:  # 403/404, connection errors (reported by the list calls), a malformed answer
        return None
