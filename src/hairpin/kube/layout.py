"""Which kube-proxy (iptables mode) rule layout a ``kube_proxy.version`` ("1.NN") selects.

The boundaries, with what each one rests on (details and links in docs/kube-proxy.md):

- ``1.18``: the layout of kube-proxy v1.18 (pkg/proxy/iptables/proxier.go of the release-1.18
  tree: KUBE-NODEPORTS -> KUBE-MARK-MASQ + KUBE-SVC, KUBE-XLB for externalTrafficPolicy Local,
  ``ns/name:`` comments) with the KUBE-POSTROUTING of kubernetes PR #92035 (RETURN unless marked,
  clear the mark, MASQUERADE), which was cherry-picked into v1.18.5, so it is what the seed's
  EKS 1.18.9 nodes ran.  KUBE-FORWARD holds the two "conntrack pod source/destination" rules, which
  1.18 writes without --cluster-cidr.  Checked against kube-proxy's own TestEndpointSliceE2E dump of
  a release-1.18 tree (v1.18.5+; tests/test_kube_oracle_old.py).
- 1.19 .. 1.23 are not modelled (PR #96959 moved KUBE-MARK-MASQ from KUBE-NODEPORTS into the
  KUBE-SVC chains in 1.21; port names lost the trailing colon): they are refused.
- ``1.24``: PR #109060 (merged 2022-03, in v1.24.0) replaced KUBE-XLB with KUBE-EXT + KUBE-SVL;
  no endpoints-local still marks for drop with KUBE-MARK-DROP.
- ``>= 1.25``: PR #110290 replaced that KUBE-MARK-DROP with a filter-table DROP in
  KUBE-EXTERNAL-SERVICES; KUBE-PROXY-FIREWALL exists (filter INPUT/OUTPUT/FORWARD jumps).
- ``>= 1.28``: IPTablesOwnershipCleanup GA (kubernetes PR #119374): kubelet no longer creates
  KUBE-MARK-DROP or KUBE-MARK-MASQ; kube-proxy writes the KUBE-FIREWALL "block incoming localnet
  connections" rule itself.
The newest layout is the one of the current master's proxier.go (checked against the stored
snapshot).  kube-proxy's TestOverallIPTablesRules expects the same rules in a 1.33+ master copy
(kubernetes/kubernetes @ 531be812) and in a 1.36 tree (jesseward/kubernetes @ 5ec89f49), so 1.33 -
1.36 share it (tests/test_kube_oracle_ipt_copies.py); later versions get it too, unchecked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hairpin.errors import ScenarioError

__all__ = ["NEWEST_CHECKED", "NFTABLES_FIRST", "Layout", "layout_for", "nftables_layout_for", "parse_version", "unchecked",
           "unsupported"]


def parse_version(version: str, key: str = "kube_proxy.version") -> tuple[int, int]:
    """``"1.18"`` (also ``"v1.18"``, ``"1.18.9"``, ``"1.18.9-eks-1"``) -> (1, 18); ``key`` names the scenario key
    in the error (``cni.version`` reads its versions the same way)."""
    m = re.fullmatch(r"v?(\d+)\.(\d+)(?:\.\d+)?(?:[-+].*)?", str(version).strip())
    if not m:
        raise ScenarioError(f"{key}: expected \"1.NN\", got {version!r}")
    return int(m.group(1)), int(m.group(2))


@dataclass(frozen=True)
class Layout:
    """The version-dependent choices of kube-proxy's iptables proxier."""

    minor: int

    @property
    def legacy(self) -> bool:
        """1.18: KUBE-XLB, masquerade in KUBE-NODEPORTS, ``ns/name:`` names."""
        return self.minor < 24

    @property
    def mark_drop_for_no_local(self) -> bool:
        """1.24 only: KUBE-MARK-DROP in the policy chain when no endpoint is local."""
        return self.minor == 24

    @property
    def proxy_firewall(self) -> bool:
        """KUBE-PROXY-FIREWALL and its jumps (>= 1.25)."""
        return self.minor >= 25

    @property
    def kubelet_owns_mark_chains(self) -> bool:
        """kubelet still creates KUBE-MARK-DROP/KUBE-MARK-MASQ and its KUBE-FIREWALL drop rule (< 1.28)."""
        return self.minor < 28

    @property
    def proxy_writes_localnet_rule(self) -> bool:
        """kube-proxy writes KUBE-FIREWALL's "block incoming localnet connections" (>= 1.28)."""
        return self.minor >= 28


def layout_for(version: str) -> Layout:
    major, minor = parse_version(version)
    if major != 1 or minor < 18 or 19 <= minor <= 23:
        raise ScenarioError(
            f"kube_proxy.version: {version!r} is not modelled; use \"1.18\" or \"1.24\" and later"
        )
    return Layout(minor)


#: The first release with kube-proxy's nftables mode: KEP-3866, alpha in v1.29 (feature gate
#: NFTablesProxyMode; CHANGELOG-1.29), beta 1.31, GA 1.33.
NFTABLES_FIRST = 29


def nftables_layout_for(version: str) -> Layout:
    """The layout for ``mode: nftables``: refused before the release that had the mode."""
    lay = layout_for(version)
    if lay.minor < NFTABLES_FIRST:
        raise ScenarioError(
            f"kube_proxy.version: {version!r} has no nftables mode (kube-proxy's nftables mode first "
            f"shipped in 1.{NFTABLES_FIRST}, as an alpha feature); use \"1.30\" or later"
        )
    if lay.minor == NFTABLES_FIRST:
        # kubernetes PRs #122296, #122614, #122692 (merged for 1.30) rewrote the alpha's skeleton
        raise ScenarioError(
            f"kube_proxy.version: {version!r}: the 1.29 alpha layout of the nftables mode is not modelled "
            "(1.30 moved its filter chains, firewall checks and source-range rules); use \"1.30\" or later"
        )
    return lay


#: Service features (scenario keys) the rule writers handle, per mode; the 1.18 iptables layout
#: handles none of them.
_FEATURES = {
    "iptables": {"external_ips", "load_balancer_ips", "load_balancer_source_ranges", "session_affinity",
                 "internal_traffic_policy"},
    # nftables: loadBalancerSourceRanges through the firewall-check chain at dstnat - 10 on prerouting
    # and output (the simulator's host runs nft filter chains below dstnat before its nat table)
    "nftables": {"external_ips", "load_balancer_ips", "load_balancer_source_ranges", "internal_traffic_policy",
                 "session_affinity"},
    # ipvs: every modelled layout (hairpin.kube.ipvs): 1.18 and 1.24 check source ranges in nat KUBE-FIREWALL
    # with KUBE-MARK-DROP, 1.25 and later in filter KUBE-SOURCE-RANGES-FIREWALL (kubernetes PR #110628)
    "ipvs": {"external_ips", "load_balancer_ips", "load_balancer_source_ranges"},
}  # fmt: skip

#: The first IPVS-mode layout that checks loadBalancerSourceRanges in the filter table: kubernetes PR #110628
#: ("don't use KUBE-MARK-DROP in ipvs proxy", merged 2022-06, v1.25) moved the check from nat KUBE-FIREWALL +
#: KUBE-MARK-DROP to filter KUBE-PROXY-FIREWALL -> KUBE-SOURCE-RANGES-FIREWALL; hairpin writes both layouts.
IPVS_FEATURES_FIRST = 25


def unsupported(mode: str, version: str, feature: str) -> str | None:
    """Why ``feature`` (a Service key) is not written for this kube-proxy mode and version, or None."""
    lay = layout_for(version)
    if mode == "iptables" and lay.legacy:
        return f"not modelled for kube-proxy 1.{lay.minor} (iptables layouts 1.24 and later write it)"
    if feature not in _FEATURES.get(mode, set()):
        return f"not modelled in kube-proxy's {mode} mode (the iptables mode from 1.24 writes it)"
    return None


#: Per mode, the newest kube-proxy release whose own unit tests' expected rules hairpin's rules were checked
#: against (docs/kube-proxy.md: iptables and nftables by the 1.36 tree of the fork jesseward/kubernetes at
#: 5ec89f49, IPVS by a 1.33+ tree of kubernetes/kubernetes at 531be812).
NEWEST_CHECKED = {"iptables": 36, "nftables": 36, "ipvs": 33}


def unchecked(mode: str, version: str) -> str | None:
    """A note for a kube-proxy newer than the newest release checked in its mode (its rules are taken to be
    that release's), else None."""
    major, minor = parse_version(version)
    newest = NEWEST_CHECKED.get(mode)
    if newest is None or (major, minor) <= (1, newest):
        return None
    return (f"kube-proxy {major}.{minor} ({mode} mode) is newer than the newest release hairpin's rules were checked "
            f"against (1.{newest}); its rules are taken to be 1.{newest}'s")
