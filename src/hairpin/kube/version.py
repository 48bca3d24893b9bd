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
Pods whose image names no release (``:latest``, a digest only) are said by ``no_release``, a release newer than
hairpin's rules were checked against by ``newer_than_checked``: of the newest kube-proxy seen
(``newest_kube_proxy``), since behaviour is judged by the oldest (a behaviour that came in later is not on every
node) but a node that runs the newest may already do what hairpin's rules do not show.  The VPC CNI's release for ``scenario
from-cluster`` (``scenario_cni_version``) is the aws-node pods' ``amazon-k8s-cni`` image tag.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hairpin.aws.cloud_provider import Version, parse_version
from hairpin.errors import ScenarioError
from hairpin.kube import cni_layout
from hairpin.kube.answers import Budget
from hairpin.kube.cluster import Cluster, version_of
from hairpin.kube.datapath import Seen
from hairpin.kube.layout import unchecked
from hairpin.text import shown

__all__ = ["NEWER_SEEN", "RELEASE_ASSUMED", "ProxyVersion", "kube_proxy_version", "live_server_version", "newer_than_checked",
           "newest_kube_proxy", "no_release", "scenario_cni_version", "scenario_kube_proxy_version"]

#: how a note of ``hairpin scenario from-cluster`` begins that says a release was assumed because an image tag
#: names none (the command also prints it as a warning)
RELEASE_ASSUMED = "release assumed:"
#: how a note of ``hairpin scenario from-cluster`` begins that says a kube-proxy newer than the one the scenario
#: models (the oldest) is newer than hairpin's rules were checked against (the command also prints it as a warning)
NEWER_SEEN = "newer kube-proxy seen:"
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
    return _kube_proxy(cluster, min)


def newest_kube_proxy(cluster: Cluster) -> ProxyVersion | None:
    """The newest kube-proxy release the input shows, from the same source as ``kube_proxy_version``."""
    return _kube_proxy(cluster, max)


_Seen = tuple[tuple[int, int], str, str]  # (release, where: a tag or a raw kubeProxyVersion, the pod or node)


def _kube_proxy(cluster: Cluster, pick: Callable[[list[_Seen]], _Seen]) -> ProxyVersion | None:
    tags = [(v, tag, pod) for tag, pod in cluster.seen.kube_proxy_tags if (v := version_of(tag)) is not None]
    if tags:
        v, tag, pod = pick(tags)
        return ProxyVersion(v, f"the image tag {tag} of kube-proxy pod {pod}")
    nodes = [(v, shown(str(n.kube_proxy_version)), shown(n.name)) for n in cluster.nodes.values()
             if (v := version_of(n.kube_proxy_version)) is not None]  # fmt: skip
    if nodes:
        v, raw, name = pick(nodes)
        return ProxyVersion(v, f"status.nodeInfo.kubeProxyVersion {raw} of node {name}, which the kubelet writes "
                               "with its own version")  # fmt: skip
    return None


def no_release(cluster: Cluster) -> str | None:
    """What the input says of kube-proxy pods whose image names no release (a tag such as ``latest`` or ``main``,
    a digest only, no tag): the first of them and how many more, as the start of a warning; None when there are
    none.  hairpin then reads kube-proxy's release elsewhere (``kube_proxy_version``), and says what it took."""
    seen = cluster.seen
    found = [f"the image tag {tag} of kube-proxy pod {pod}" for tag, pod in seen.kube_proxy_tags
             if version_of(tag) is None]  # fmt: skip
    found += [f"the image of kube-proxy pod {pod} ({why})" for why, pod in seen.kube_proxy_untagged]
    if not found:
        return None
    more = len(found) - 1
    return found[0] + (f" (and {more} other kube-proxy pod{'' if more == 1 else 's'})" if more else "") + " names no release"


def newer_than_checked(kp: ProxyVersion | None, mode: str | None) -> str | None:
    """A warning when the kube-proxy release read is newer than the newest hairpin's rules were checked against in its
    mode (``hairpin.kube.layout.NEWEST_CHECKED``; an unknown mode: iptables, as ``hairpin check`` assumes)."""
    if kp is None:
        return None
    said = unchecked(mode if mode in ("iptables", "nftables", "ipvs") else "iptables", "{}.{}".format(*kp.version))
    return f"{said} (from {kp.source})" if said is not None else None


def scenario_kube_proxy_version(c: Cluster, kp: ProxyVersion | None, mode: str, notes: list[str]) -> str:
    """``kube_proxy.version`` for ``hairpin scenario from-cluster``, with a note saying where it came from: ``kp``
    (``kube_proxy_version``), else, when every kubelet is 1.33 or later (so kubeProxyVersion is empty), the oldest
    kubelet's release (the version skew policy keeps kube-proxy at most three minors below the API server, which
    is not older than any kubelet; EKS's kube-proxy add-on follows the cluster's release), else the first layout
    modelled for the mode."""
    if kp is not None:
        version = f"{kp.version[0]}.{kp.version[1]}"
        notes.append(f"kube-proxy {version} from {kp.source}")
        newest = newest_kube_proxy(c)
        late = newer_than_checked(newest, mode) if newest is not None and newest.version != kp.version else None
        if late is not None:  # the scenario's own release, when it is newer, is said by hairpin.cli.common
            notes.append(f"{NEWER_SEEN} {late}; the scenario models the oldest kube-proxy seen, {version} (from "
                         f"{kp.source}); set kube_proxy.version to reproduce a node that runs the newer one")  # fmt: skip
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


def _cni_release(tag: str) -> tuple[int, int] | None:
    try:
        return cni_layout.parse_version(tag)
    except ScenarioError:
        return None


def scenario_cni_version(seen: Seen, notes: list[str]) -> str:
    """``cni.version`` from the aws-node pods' image tag (``.../amazon-k8s-cni:v1.19.0-eksbuild.1`` ->
    "1.19"; the first pod's that names a release when several run: what runs now), else the DaemonSet
    kube-system/aws-node's pod template's (what its pods get), with a note on where it came from, and a
    ``RELEASE_ASSUMED`` warning when an image names no release (``:latest``, a digest only)."""
    default, tell = cni_layout.DEFAULT, "set cni.version in the scenario to the release it runs"
    template = "the pod template of DaemonSet kube-system/aws-node"
    tags = list(seen.aws_node_tags)
    if not tags and not seen.aws_node_untagged and seen.cni_template_tag:
        tags = [(seen.cni_template_tag, "")]  # no aws-node pod in the input

    def source(pod: str) -> str:
        return f"aws-node pod {pod}" if pod else template

    read = [(tag, pod, _cni_release(tag)) for tag, pod in tags]
    unreleased = [f"the amazon-k8s-cni image tag {tag} of {source(pod)}" for tag, pod, v in read if v is None]
    unreleased += [f"the amazon-k8s-cni image of aws-node pod {pod} ({why})" for why, pod in seen.aws_node_untagged]
    released = [(tag, pod, v) for tag, pod, v in read if v is not None]
    if not released:
        if unreleased:
            notes.append(f"{RELEASE_ASSUMED} {unreleased[0]} names no release: VPC CNI {default} assumed; {tell}")
        else:
            notes.append(f"VPC CNI version unknown (no aws-node pod with an amazon-k8s-cni image in the input): "
                         f"{default} assumed")  # fmt: skip
        return default
    tag, pod, (major, minor) = released[0]
    try:
        cni_layout.layout_for(f"{major}.{minor}")
    except ScenarioError:
        notes.append(f"VPC CNI image tag {tag!r} ({source(pod)}) is not a modelled release: {default} assumed")
        return default
    version = f"{major}.{minor}"
    others = sorted({t for t, _ in tags} - {tag})
    also = [f"other aws-node pods run {', '.join(others)}"] if others else []
    if pod and seen.cni_template_tag and seen.cni_template_tag != tag:
        also.append(f"{template} has {seen.cni_template_tag}")
    notes.append(f"VPC CNI {version} from the image tag {tag} of {source(pod)}" + (f" ({'; '.join(also)})" if also else ""))
    if unreleased:
        notes.append(f"{RELEASE_ASSUMED} {unreleased[0]} names no release: VPC CNI {version} taken from "
                     f"{source(pod)}; {tell}")  # fmt: skip
    late = cni_layout.note(version)
    if late is not None:
        notes.append(late)
    return version
