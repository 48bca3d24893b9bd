"""Which AWS VPC CNI (aws-node) host-rule layout a ``cni.version`` ("1.NN") selects.

Read from aws/amazon-vpc-cni-k8s, ``pkg/networkutils/network.go`` (``SetupHostNetwork``,
``buildIptablesSNATRules``, ``buildIptablesConnmarkRules``) and, from v1.23.0, ``iptables_connmark.go``
(``iptablesConnmark.buildRules``), at every release tag from v1.7.0 to v1.23.0, with the defaults of the
aws-node DaemonSet of each release (``config/v1.7/aws-k8s-cni.yaml``, then ``config/master/aws-k8s-cni.yaml``:
AWS_VPC_K8S_CNI_RANDOMIZESNAT=prng, AWS_VPC_CNI_NODE_PORT_SUPPORT=true, AWS_VPC_K8S_CNI_EXTERNALSNAT=false,
AWS_VPC_K8S_CNI_VETHPREFIX=eni, ENABLE_POD_ENI=false, no AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS, no
AWS_VPC_K8S_CNI_CONNMARK so ``defaultConnmark`` 0x80).  The boundaries (details in docs/model.md):

- ``1.7``: the seed's era, v1.7.10's rules word for word: mangle CONNMARK set on eth0, restored on eni+ and,
  since v1.7.0 (PR #1125, security groups for pods), on vlan+; one nat AWS-SNAT-CHAIN-i per VPC CIDR with the
  comment "AWS SNAT CHAIN" (since v1.6.0, commit a4b14ebb7; "AWS SNAT CHAN" is v1.3 - v1.5's) and
  ``! -o vlan+`` on the SNAT rule (PR #1125).
- ``1.8``: PR #1475 (commit a07c423b9, in v1.8.0): nat PREROUTING ``-i eni+ ... "AWS, outbound connections"
  -m state --state NEW -j AWS-CONNMARK-CHAIN-0``, one AWS-CONNMARK-CHAIN-i per VPC CIDR, ``--set-xmark``
  "AWS, CONNMARK" in the last one and an "AWS, CONNMARK" ``--restore-mark`` after the jump.
- ``1.12``: PR #2026 (commit f21b587fd, merged into release-1.12 for v1.12.1) dropped ``-m state --state NEW``
  from the jump (v1.12.0 still wrote it).
- ``1.16``: PR #2697 ("Refactor IPTable Rules", commit 21c4bd730, v1.16.0): one AWS-SNAT-CHAIN-0 and one
  AWS-CONNMARK-CHAIN-0 with a ``-d CIDR ... -j RETURN`` per CIDR (inserted at the top), the SNAT /
  set-mark rule last.
- ``1.23``: PR #3588 (commit 70be55a39, v1.23.0) moved the connection-mark rules into ``Connmark``
  (``iptables_connmark.go``): the RETURN rules' comment became "AWS CONNMARK CHAIN" (was "AWS CONNMARK
  CHAIN, VPC CIDR"), and with external SNAT the chain itself is deleted.  ``NewConnmark`` picks the backend
  from ``iptables --version`` (``iptableswrapper.GetIptablesMode``/``parseIptablesMode``: any output without
  "legacy" is nf_tables): on an nf_tables node (EKS's Amazon Linux 2023 AMI installs iptables-nft,
  awslabs/amazon-eks-ami ``templates/al2023/provisioners/install-worker.sh``) the connection marks are the
  nftables ``table ip aws-cni`` instead (``nftables_connmark.go``, the scenario's ``cni.connmark_backend:
  nftables``; its text: ``hairpin.kube.cni.nft_ruleset``).  Only the nat connection-mark rules move; the
  SNAT chain and the mangle CONNMARK rules stay iptables rules (``network.go``).  Each backend's ``Setup``
  deletes the other's rules once (``cleanupIptablesConnmarkRules``, ``cleanupNFTStaleRules``), so a node
  holds one form.  Unchanged in the snapshot after v1.23.0 (b52188387, "Prepare v1.23.1 release").

The ip rules (512 to a pod, 1024 fwmark, 1536 from a secondary-ENI pod) and the pod routes are the same in
every release read (cmd/routed-eni-cni-plugin/driver ``setupIPBasedContainerRouteRules``).
"""

from __future__ import annotations

from dataclasses import dataclass

from hairpin.errors import ScenarioError
from hairpin.kube import layout as kube_layout

__all__ = [
    "BACKENDS",
    "DEFAULT",
    "LAYOUTS",
    "NEWEST_READ",
    "CniLayout",
    "check_backend",
    "layout_for",
    "note",
    "parse_version",
]

#: the scenario's default: the seed's era
DEFAULT = "1.7"
#: the newest release whose source was read
NEWEST_READ = 23
#: the oldest release modelled
OLDEST = 7
#: ``cni.connmark_backend``: the label values of aws-node's ``awscni_connmark_backend`` metric (``NewConnmark``)
BACKENDS = ("iptables", "nftables")


def parse_version(version: str) -> tuple[int, int]:
    """``"1.19"`` (also ``"v1.19"``, ``"1.19.0"``, ``"v1.19.0-eksbuild.1"``) -> (1, 19), as kube-proxy's versions
    are read (``hairpin.kube.layout.parse_version``)."""
    return kube_layout.parse_version(version, "cni.version")


@dataclass(frozen=True)
class CniLayout:
    """The version-dependent text of aws-node's host rules (IPv4, the DaemonSet's defaults)."""

    #: the release that introduced this layout (1.minor)
    minor: int
    #: what the release line changed, with its source
    source: str
    #: the comment on the SNAT jump and its CIDR rules
    snat_comment: str = "AWS SNAT CHAIN"
    #: one AWS-SNAT-CHAIN-0 with RETURN rules (else a chain per CIDR, ``! -d CIDR -j next``)
    single_chain: bool = True
    #: ``! -o vlan+`` on the SNAT rule and the mangle ``-i vlan+`` restore rule
    vlan: bool = True
    #: nat PREROUTING -> AWS-CONNMARK-CHAIN-0 and the "AWS, CONNMARK" restore
    nat_connmark: bool = True
    #: ``-m state --state NEW`` on the jump to AWS-CONNMARK-CHAIN-0
    state_new: bool = False
    #: the comment on AWS-CONNMARK-CHAIN's per-CIDR rules
    connmark_comment: str = "AWS CONNMARK CHAIN, VPC CIDR"
    #: with external SNAT the connmark chain is deleted (v1.23 ``iptablesConnmark.Cleanup``), not left empty
    connmark_chain_deleted_on_external_snat: bool = False
    #: the connection marks may be written as ``table ip aws-cni`` (v1.23 ``nftConnmark``)
    nft_connmark: bool = False


LAYOUTS: tuple[CniLayout, ...] = (
    CniLayout(7, "v1.7.0: per-CIDR SNAT chains, vlan rules (PR #1125)", single_chain=False, nat_connmark=False),
    CniLayout(8, "PR #1475, v1.8.0: nat AWS-CONNMARK-CHAIN-i", single_chain=False, state_new=True),
    CniLayout(12, "PR #2026, v1.12.1: no -m state --state NEW", single_chain=False),
    CniLayout(16, "PR #2697, v1.16.0: single chains with RETURN rules"),
    CniLayout(23, "PR #3588, v1.23.0: Connmark backends", connmark_comment="AWS CONNMARK CHAIN",
              connmark_chain_deleted_on_external_snat=True, nft_connmark=True),
)  # fmt: skip


def layout_for(version: str) -> CniLayout:
    """The layout of VPC CNI ``version``: the newest layout introduced at or before it."""
    major, minor = parse_version(version)
    if major != 1 or minor < OLDEST:
        raise ScenarioError(f'cni.version: {version!r} is not modelled; use "1.7" or later')
    return [lay for lay in LAYOUTS if lay.minor <= minor][-1]


def note(version: str) -> str | None:
    """A one-line note when ``version`` takes the rules of an older release (the layout it shares, or the
    newest read), else None."""
    _, minor = parse_version(version)
    lay = layout_for(version)
    if minor > NEWEST_READ:
        return (
            f"VPC CNI 1.{minor} is newer than the newest release hairpin's rules were read from "
            f"(1.{NEWEST_READ}); its rules are taken to be 1.{NEWEST_READ}'s"
        )
    if minor != lay.minor:
        return f"VPC CNI 1.{minor} writes the host rules of 1.{lay.minor} (unchanged since then: {lay.source})"
    return None


def check_backend(version: str, backend: str) -> None:
    """Refuse ``connmark_backend`` nftables with a release that has only the iptables form (before v1.23.0)."""
    lay = layout_for(version)
    if backend == "nftables" and not lay.nft_connmark:
        first = min(lay.minor for lay in LAYOUTS if lay.nft_connmark)
        raise ScenarioError(f'cni.connmark_backend: nftables is written by VPC CNI 1.{first} and later '
                            f'(PR #3588, v1.23.0: table ip aws-cni); cni.version is "{version}"')  # fmt: skip
