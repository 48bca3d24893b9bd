"""What ``hairpin check`` knows of a cluster's versions, and where from.

``Versions``: the Kubernetes version (the live API server's /version, or --kubernetes-version) and the AWS
cloud provider's release (--cloud-provider-version).  ``in_tree_support`` turns them, else the newest
kubelet of the input (a lower bound of the control plane), into whether the cloud provider honours the
target group attributes annotation (``hairpin.aws.cloud_provider``).  ``oldest_kube_proxy``: the oldest
kube-proxy (its pods' image tags, else the nodes' kubeProxyVersion), which decides whether ipMode is honoured
(``hairpin.kube.ipmode``) and how kube-proxy's rules are modelled (``hairpin.diagnose.proxy_firewall``);
``kube_proxy_warnings`` says what was assumed when its pods' images name no release or a release newer than any
hairpin's rules were checked against.  ``lbc_warnings`` lifts what is said of the AWS Load Balancer Controller
itself (its image's release, its feature gates, the Gateway API versions it needs) out of every finding that
repeats it, so a report says each once (``Report.lbc_warnings``); ``lbc_problems`` does the same for the flags
the controller refuses at start (``Report.lbc_problems``), leaving each of its Services a pointer (``LBC_REFUSED``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hairpin.aws import cloud_config, gateway_crd
from hairpin.aws.cloud_provider import Support, Version, tg_attributes_support
from hairpin.kube.cluster import Cluster
from hairpin.kube.version import ProxyVersion, kube_proxy_version, newer_than_checked, newest_kube_proxy, no_release

if TYPE_CHECKING:
    from hairpin.diagnose.finding import Finding

__all__ = ["LBC_REFUSED", "LBC_REFUSED_TEXT", "Versions", "in_tree_support", "kube_proxy_warnings", "lbc_problems",
           "lbc_said", "lbc_warnings", "nlb_sg_mode", "oldest_kube_proxy"]  # fmt: skip

#: what each Service of an AWS Load Balancer Controller that refuses its flags keeps among its problems, in place of
#: the flags' own lines (``lbc_problems``): it stays a Service with a problem, the text is said once.  Such a
#: controller does not start: its main.go exits ("unable to load controller config") when loadControllerConfig, which
#: parses and validates the flags, fails, before it sets up any reconciler (kubernetes-sigs/aws-load-balancer-controller)
LBC_REFUSED = (
    "the AWS Load Balancer Controller refuses to start with its flags (lbc_problems, said once): it builds "
    "or changes no load balancer until they are fixed; this verdict takes each refused value at its default"
)
#: what the text report says once for every Service that carries ``LBC_REFUSED`` (``hairpin.diagnose.report_text``)
LBC_REFUSED_TEXT = (
    "the AWS Load Balancer Controller refuses to start with its flags (the problem: lines under the "
    "first line): it builds or changes no load balancer until they are fixed; hairpin judges these Services "
    "with each refused value at its default"
)


@dataclass(frozen=True)
class Versions:
    """What is known of the cluster's versions: Kubernetes (from /version or --kubernetes-version, with where it
    came from) and the cloud provider's release (--cloud-provider-version)."""

    kubernetes: Version | None = None
    kubernetes_from: str = ""
    cloud_provider: Version | None = None
    #: the cloud config of --cloud-config, which wins over the input's ConfigMaps (hairpin.aws.cloud_config)
    cloud_config: cloud_config.CloudConfig | None = None
    #: kube-proxy's (major, minor) from --kube-proxy-version: taken only when the input shows no release
    kube_proxy: tuple[int, int] | None = None
    #: the AWS Load Balancer Controller's release from --lbc-version: taken only when the input shows none
    #: (``hairpin.aws.lbc_flags.with_release``)
    lbc: tuple[int, int, int] | None = None


def in_tree_support(cluster: Cluster, v: Versions) -> Support:
    if v.kubernetes is not None or v.cloud_provider is not None:
        return tg_attributes_support(v.kubernetes, v.kubernetes_from, v.cloud_provider)
    kubelet = cluster.kubernetes_version()
    if kubelet is None:
        return tg_attributes_support(None)
    return tg_attributes_support((kubelet[0], kubelet[1], -1), "the newest kubelet in the input", lower_bound=True)


def nlb_sg_mode(cluster: Cluster, v: Versions) -> cloud_config.SgMode:
    """Whether the in-tree provider puts security groups on its NLBs: --cloud-config, else the input's ConfigMaps."""
    configs = ([v.cloud_config] if v.cloud_config is not None else []) + cluster.cloud_configs
    kubelet = cluster.kubernetes_version()
    return cloud_config.decide(configs, provider=v.cloud_provider, kubernetes=v.kubernetes, kube_from=v.kubernetes_from,
                               kubelet=(kubelet[0], kubelet[1], -1) if kubelet is not None else None)  # fmt: skip


def oldest_kube_proxy(cluster: Cluster, given: tuple[int, int] | None = None) -> tuple[int, int] | None:
    """The oldest kube-proxy's (major, minor): its pods' image tags, else the nodes' kubeProxyVersion
    (``hairpin.kube.version.kube_proxy_version``), else ``given`` (--kube-proxy-version); None when none says."""
    got = kube_proxy_version(cluster)
    return got.version if got is not None else given


def kube_proxy_warnings(cluster: Cluster, given: tuple[int, int] | None = None) -> list[str]:
    """One line when kube-proxy pods run an image that names no release (``:latest``, a digest only) and what
    kube-proxy was then taken to be, one when any kube-proxy release read (the newest) is newer than the newest
    hairpin's rules were checked against in its mode, naming the oldest too when they differ (it decides
    behaviour), and one when ``given`` (--kube-proxy-version) is not what the input shows (the input wins).
    Without a release, ``oldest_kube_proxy`` is ``given`` or None, and with None the verdicts that depend on it
    take a current kube-proxy: ipMode honoured and an IPv4-mapped source range refused (1.30 and later,
    ``hairpin.kube.ipmode``, ``hairpin.diagnose.proxy_firewall``)."""
    out: list[str] = []
    kp = kube_proxy_version(cluster)
    flag = None if given is None else ProxyVersion(given, "--kube-proxy-version")
    if flag is not None and kp is not None and kp.version != flag.version:
        out.append(f"--kube-proxy-version {flag.version[0]}.{flag.version[1]} is not used: the input shows kube-proxy "
                   f"{kp.version[0]}.{kp.version[1]} (from {kp.source}), which hairpin takes")  # fmt: skip
    bad = no_release(cluster)
    if bad is not None:
        took = kp or flag
        said = (f"kube-proxy is taken to be {took.version[0]}.{took.version[1]}, from {took.source}" if took is not None
                else "kube-proxy is taken to be 1.30 or later")  # fmt: skip
        out.append(f"{bad}: {said}; hairpin reads kube-proxy's release from its pods' image tags, then from the "
                   "nodes' status.nodeInfo.kubeProxyVersion, then from --kube-proxy-version")  # fmt: skip
    newest = newest_kube_proxy(cluster) or flag  # any kube-proxy newer than checked, though the oldest decides
    newer = newer_than_checked(newest, cluster.proxy_mode)
    if newer is not None and kp is not None and newest is not None and newest.version != kp.version:
        newer += (f"; the verdicts that depend on kube-proxy's release take the oldest kube-proxy seen, "
                  f"{kp.version[0]}.{kp.version[1]} (from {kp.source}): a behaviour that came in later is not on "
                  "every node")  # fmt: skip
    if newer is not None:
        out.append(newer)
    return out


def lbc_said(cluster: Cluster) -> tuple[str, ...]:
    """What is said of the AWS Load Balancer Controller of the input as a whole, the same words for each of its
    Services and Gateway target groups: its image's release (newer than the newest read, or none named) and the
    feature gates that release may not know (``hairpin.aws.lbc_flags``), and whether it may turn its NLB Gateway
    support off (``hairpin.aws.gateway_crd.served_warning``)."""
    served = gateway_crd.served_warning(cluster.gateway_objects, cluster.lbc)
    return (*(cluster.lbc.warnings if cluster.lbc is not None else ()), *([served] if served else []))


def lbc_warnings(findings: Sequence[Finding], said: Sequence[str]) -> list[str]:
    """Each line of ``said`` (``lbc_said``) that a finding carries, once, in ``said``'s order; the findings keep
    their own warnings only.  A cluster of 10,000 Services of one controller then says it once, not 10,000 times;
    a line no finding carries (no Service of that controller) is not said, as before."""
    lines = set(said)
    seen: set[str] = set()
    for f in findings:
        if lines.intersection(f.warnings):
            seen.update(w for w in f.warnings if w in lines)
            f.warnings = [w for w in f.warnings if w not in lines]
    return [w for w in said if w in seen]


def lbc_problems(findings: Sequence[Finding], refused: Sequence[str]) -> list[str]:
    """Each line of ``refused`` (the flags the AWS Load Balancer Controller refuses at start, ``LbcFlags.problems``,
    which ``hairpin.aws.controller.resolve`` copies into each of its Services' problems) that a finding carries,
    once, in ``refused``'s order.  A finding that carried any keeps ``LBC_REFUSED`` in their place (where the first
    was), so it still counts as a Service with a problem (the report's first and last lines, SARIF ``HP004``) and
    its verdict is unchanged; a line no finding carries is not said, as before."""
    lines = set(refused)
    seen: set[str] = set()
    for f in findings:
        had = f.settings.problems
        if lines.isdisjoint(had):
            continue
        seen.update(p for p in had if p in lines)
        at = next(i for i, p in enumerate(had) if p in lines)
        kept = [p for p in had if p not in lines]
        f.settings = dataclasses.replace(f.settings, problems=(*kept[:at], LBC_REFUSED, *kept[at:]))
    return [p for p in refused if p in seen]
