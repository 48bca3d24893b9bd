"""Where aws-node writes its connection marks on a cluster's nodes, from their OS image (``cni.connmark_backend``).

What decides it, read from the sources:

- aws/amazon-vpc-cni-k8s v1.23.0 ``pkg/networkutils/nftables_connmark.go`` ``NewConnmark``: the nftables
  ``table ip aws-cni`` when ``iptableswrapper.GetIptablesMode`` (``pkg/iptableswrapper/iptables.go``) finds
  that ``iptables --version``, run in the aws-node container, does not say "legacy"; iptables rules
  otherwise.  No flag or environment variable overrides it (``ENABLE_NFTABLES`` has not been read since v1.13.2:
  PR #2402 removed it from ``cmd/aws-vpc-cni/main.go``).  Releases before 1.23 write iptables rules only
  (``hairpin.kube.cni_layout``).  Unchanged in v1.23.1's snapshot.
- The container's ``iptables`` is the iptables wrapper: ``scripts/dockerfiles/Dockerfile.release``
  (``update-alternatives --set iptables /usr/sbin/iptables-wrapper``, since PR #2402, v1.13.2) on the base image
  ``eks-distro-minimal-base-iptables`` (``Makefile`` ``BASE_IMAGE_CNI``), which builds it from
  kubernetes-sigs/iptables-wrappers (aws/eks-distro-build-tooling ``eks-distro-base/Dockerfile.minimal-base-iptables``).
  Its first run (``internal/iptables/detect.go`` ``DetectMode``) picks nft when the nft mangle table holds
  kubelet's ``KUBE-IPTABLES-HINT`` or ``KUBE-KUBELET-CANARY`` chain, else legacy when the legacy tables do,
  else nft, and points ``iptables`` at that mode's binary.  kubelet creates the hint chain with the host's
  own ``iptables`` (kubernetes ``pkg/kubelet/kubelet_network_linux.go`` ``syncIPTablesRules``), so aws-node
  follows the host's iptables.
- Amazon Linux 2023: EKS's AMI installs ``iptables-nft`` and no legacy iptables (awslabs/amazon-eks-ami
  ``templates/al2023/provisioners/install-worker.sh``): nf_tables.  A node whose user data installs
  iptables-legacy and switches to it (the VPC CNI's own mixed-OS test does:
  ``scripts/run-mixed-os-snat-kube-proxy-test.sh``, node group al2023-legacy) still says Amazon Linux 2023.
- Amazon Linux 2: its ``iptables`` is iptables-legacy (EKS's worker AMIs link iptables to iptables-legacy:
  aws/eks-distro-build-tooling issue 202; the VPC CNI's README: "VPC CNI uses iptables-legacy by default").
- Bottlerocket and Ubuntu are not settled by the sources read: Bottlerocket built iptables without nftables
  until 2025 (bottlerocket-os/bottlerocket-core-kit ``packages/iptables/iptables.spec``,
  ``--disable-nftables``), then packaged iptables-nft beside it (bottlerocket-core-kit PR 549) without a
  source saying which one its Kubernetes variants use; Canonical's EKS images are not in the sources read.

A node's OS image is kubelet's ``status.nodeInfo.osImage``: "Amazon Linux 2", "Amazon Linux 2023" or
"Amazon Linux 2023.6.20250115".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from hairpin.kube import cni_layout

__all__ = ["ASSUMED", "Backend", "infer", "os_family"]

#: how the warning that the backend was assumed begins (``hairpin scenario from-cluster`` prints it)
ASSUMED = "cni.connmark_backend: iptables assumed:"

#: OS image -> its iptables backend, for the OS images the sources settle
_FAMILIES = (
    (re.compile(r"Amazon Linux 2023(?:[.\s]|$)"), "Amazon Linux 2023", "nftables"),
    (re.compile(r"Amazon Linux 2$"), "Amazon Linux 2", "iptables"),
)
_FIRST = min(lay.minor for lay in cni_layout.LAYOUTS if lay.nft_connmark)
_HOW = ("set cni.connmark_backend: nftables if `iptables --version` in a node's aws-node container says "
        "nf_tables")  # fmt: skip


@dataclass(frozen=True)
class Backend:
    """The backend chosen and why: ``note`` for the file's header; ``note`` starts with ``ASSUMED`` when it
    is a guess the user should check (then also a warning)."""

    value: str
    note: str | None


def os_family(os_image: str | None) -> tuple[str, str] | None:
    """(OS name, the backend aws-node 1.23 picks there) for an OS image the sources settle, else None."""
    for pattern, name, backend in _FAMILIES:
        if os_image is not None and pattern.match(os_image.strip()):
            return name, backend
    return None


def _images(nodes: Sequence[tuple[str, str | None]]) -> str:
    """The nodes by OS image: ``Amazon Linux 2023.6.20250115 on 2 nodes, Amazon Linux 2 on node3``."""
    by: dict[str, list[str]] = {}
    for name, image in nodes:
        by.setdefault(image or "no status.nodeInfo.osImage", []).append(name)
    return ", ".join(f"{image} on {names[0] if len(names) == 1 else f'{len(names)} nodes'}"
                     for image, names in sorted(by.items()))  # fmt: skip


def infer(version: str, nodes: Sequence[tuple[str, str | None]]) -> Backend:
    """``cni.connmark_backend`` for VPC CNI ``version`` ("1.NN") on ``nodes`` ((name, osImage or None))."""
    families = {os_family(image) for _, image in nodes}
    nft_nodes = any(f is not None and f[1] == "nftables" for f in families)
    if not cni_layout.layout_for(version).nft_connmark:
        if not nft_nodes:
            return Backend("iptables", None)
        return Backend("iptables", f"cni.connmark_backend: iptables: VPC CNI {version} writes its connection "
                       f"marks as iptables rules on every node (the nftables table ip aws-cni, on nodes whose "
                       f"iptables is nf_tables such as Amazon Linux 2023, is 1.{_FIRST} and later)")  # fmt: skip
    images = _images(nodes)
    if len(families) == 1 and None not in families:
        name, backend = next(f for f in families if f is not None)
        if backend == "nftables":
            return Backend("nftables", f"cni.connmark_backend: nftables: every node runs {name} ({images}), whose "
                           "EKS AMI installs iptables-nft, so aws-node writes its connection marks as the nftables "
                           "table ip aws-cni (set iptables for nodes switched to iptables-legacy)")  # fmt: skip
        return Backend("iptables", f"cni.connmark_backend: iptables: every node runs {name} ({images}), whose "
                       "iptables is iptables-legacy, so aws-node writes its connection marks as iptables rules")  # fmt: skip
    if len(families) > 1:
        return Backend("iptables", f"{ASSUMED} the nodes run different OS images ({images}); aws-node "
                       f"{version} writes its connection marks as the nftables table ip aws-cni on nodes whose "
                       "iptables is nf_tables (Amazon Linux 2023) and as iptables rules on the others, and a "
                       "scenario models one form: set cni.connmark_backend: nftables to model the nf_tables "
                       "nodes")  # fmt: skip
    said = (
        "the input gives no OS image for the nodes (status.nodeInfo.osImage), which could tell"
        if all(image is None for _, image in nodes)
        else f"the nodes' OS image ({images}) does not tell"
    )
    return Backend("iptables", f"{ASSUMED} {said} whether their iptables is nf_tables, where aws-node {version} "
                   f"writes its connection marks as the nftables table ip aws-cni instead; {_HOW}")  # fmt: skip
