"""What ``hairpin check`` reports: every Service's finding, every input error, and what the input showed or
hairpin assumed of the whole cluster (the in-tree provider's security-group mode, a datapath that is not
kube-proxy's, the VPC CNI's settings, the kube-proxy release, the AWS Load Balancer Controller's release).  It renders itself as rich tables
(``hairpin.diagnose.report_text``), JSON (``to_json``, the contract in docs/check.md) and SARIF 2.1.0
(``hairpin.diagnose.sarif``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from hairpin.aws import cloud_config
from hairpin.diagnose.finding import Finding
from hairpin.diagnose.sarif import to_sarif
from hairpin.errors import InputError
from hairpin.kube.datapath import Datapath

__all__ = ["Report"]


@dataclass
class Report:
    """Every LoadBalancer Service's finding and every input error.  Renders itself as rich tables."""

    findings: list[Finding]
    errors: list[InputError]
    only_at_risk: bool = False
    #: the in-tree provider's NLBSecurityGroupMode as decided (hairpin.aws.cloud_config)
    sg_mode: cloud_config.SgMode | None = None
    #: the Services' datapath when it is not (only) kube-proxy's NAT (hairpin.kube.datapath); None: nothing to say
    datapath: Datapath | None = None
    #: what the input shows wrong or undecided in the AWS VPC CNI's settings, one sentence each
    #: (``families.cni_warnings``: aws-node pods, or the DaemonSet's template, that differ; a family that does not
    #: match the cluster's)
    cni_warnings: tuple[str, ...] = ()
    #: what hairpin assumed of the cluster's kube-proxy release, one line each (hairpin.diagnose.versions)
    version_warnings: list[str] = dataclasses.field(default_factory=list)
    #: what is said of the AWS Load Balancer Controller as a whole (its release, its feature gates, the Gateway API
    #: versions it needs), once, not in each of its Services' warnings (hairpin.diagnose.versions.lbc_warnings)
    lbc_warnings: list[str] = dataclasses.field(default_factory=list)
    #: the flags the AWS Load Balancer Controller refuses at start, once; each of its Services keeps a pointer among
    #: its problems instead of the lines (hairpin.diagnose.versions.lbc_problems)
    lbc_problems: list[str] = dataclasses.field(default_factory=list)
    #: why the cluster's primary family is not known, once, not in the warnings of each manifest without
    #: spec.ipFamilies (hairpin.diagnose.families.family_warnings)
    ip_family_warnings: list[str] = dataclasses.field(default_factory=list)

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        from hairpin.diagnose.report_text import render

        yield from render(self, console, options)

    @property
    def at_risk(self) -> list[Finding]:
        return [f for f in self.findings if f.at_risk]

    @property
    def exit_code(self) -> int:
        """2 when some input was bad, else 1 when a Service is at risk, else 0."""
        if self.errors:
            return 2
        return 1 if self.at_risk else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "services": [f.to_json() for f in self.findings],
            "errors": [{"file": e.file or "", "line": e.line, "message": e.message} for e in self.errors],
            "cloud_config": cloud_config.to_json(self.sg_mode),
            "datapath": self.datapath.to_json() if self.datapath is not None else None,
            "cni_warnings": list(self.cni_warnings),
            "version_warnings": list(self.version_warnings),
            "lbc_warnings": list(self.lbc_warnings),
            "lbc_problems": list(self.lbc_problems),
            "ip_family_warnings": list(self.ip_family_warnings),
        }

    def to_sarif(self) -> dict[str, Any]:
        return to_sarif(self)
