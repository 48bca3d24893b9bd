"""What ``hairpin check`` says about one load balancer: the finding, its ports and its fixes.

``Fix`` is one workaround (what to change, its cost, as YAML and as a command: annotations on the Service,
or a given text for another object such as the Gateway API's TargetGroupConfiguration); ``PortVerdict`` the
verdict on one target group; ``Finding`` the verdict on one Service (or one Gateway target group), the worst
of its ports', and ``to_json`` its entry in the JSON contract.  ``hairpin.diagnose.check`` builds them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from hairpin.aws import controller as ctl
from hairpin.aws.ignored import Ignored

if TYPE_CHECKING:
    from hairpin.diagnose.proxy_firewall import ProxyDrop

__all__ = ["Finding", "Fix", "PortVerdict"]


@dataclass(frozen=True)
class Fix:
    """One workaround: what to change, what it costs, as YAML and as a command."""

    name: (
        str  # no-preserve-client-ip | proxy-protocol-v2 | ip-targets | cluster-ip | anti-affinity | recreate-ip-targets
    )
    summary: str
    cost: str
    annotations: tuple[tuple[str, str], ...] = ()
    recreate: bool = False  # the annotations only take effect on a new Service
    yaml_text: str | None = None  # a change to another object (Gateway API CRDs): its YAML ...
    command_text: str | None = None  # ... and its command

    def yaml(self) -> str | None:
        if self.yaml_text is not None:
            return self.yaml_text
        if not self.annotations:
            return None
        lines = ["metadata:", "  annotations:"]
        lines += [f'    {k}: "{v}"' for k, v in self.annotations]
        return "\n".join(lines)

    def command(self, namespace: str | None, name: str) -> str:
        """The kubectl command; ``namespace`` None: the manifest names none, so neither does the command."""
        if self.command_text is not None:
            return self.command_text
        if not self.annotations:
            return self.summary
        ns = f"-n {namespace} " if namespace is not None else ""
        if self.recreate:
            return (
                f"add these annotations to the Service's manifest, then: kubectl delete service {ns}"
                f"{name} && kubectl apply -f <manifest>"
            )
        pairs = " ".join(f"'{k}={v}'" for k, v in self.annotations)
        return f"kubectl annotate service {ns}{name} {pairs} --overwrite"

    def to_json(self, namespace: str | None, name: str) -> dict[str, Any]:
        return {"name": self.name, "summary": self.summary, "cost": self.cost, "yaml": self.yaml(),
                "command": self.command(namespace, name)}  # fmt: skip


@dataclass(frozen=True)
class PortVerdict:
    """The verdict on one Service port, i.e. one target group of the NLB."""

    port: int | None
    protocol: str  # the target group's: TCP, UDP, TCP_UDP ...
    preserve_client_ip: bool | None
    at_risk: bool
    probability: Fraction | None
    reason: str
    #: the names of the Service's fixes that clear this port (all of them when it is at risk: the annotations
    #: apply to every target group of the Service, and no fix is offered that a UDP target group refuses)
    fixes: tuple[str, ...] = ()
    #: what in kube-proxy drops callers outside loadBalancerSourceRanges on this port (hairpin.diagnose.proxy_firewall)
    kube_proxy_rule: str | None = None

    @property
    def label(self) -> str:
        return f"{self.port if self.port is not None else '?'}/{self.protocol}"

    def to_json(self) -> dict[str, Any]:
        return {"port": self.port, "protocol": self.protocol, "preserve_client_ip": self.preserve_client_ip,
                "at_risk": self.at_risk,
                "probability": float(self.probability) if self.probability is not None else None,
                "reason": self.reason, "fixes": list(self.fixes), "kube_proxy_rule": self.kube_proxy_rule}  # fmt: skip


@dataclass
class Finding:
    """The verdict on one Service a load balancer controller provisions: the worst of its ports'."""

    namespace: str
    name: str
    file: str | None
    line: int | None
    at_risk: bool
    settings: ctl.Settings
    reason: str
    probability: Fraction | None = None
    worst_node: str | None = None
    fixes: list[Fix] = field(default_factory=list)
    service_type: str = "LoadBalancer"
    ports: list[PortVerdict] = field(default_factory=list)
    #: annotations the provisioning controller ignores (hairpin.aws.ignored)
    ignored: list[Ignored] = field(default_factory=list)
    #: where annotations and fields sit in the file: (line, column) (hairpin.parsers.strict.marks)
    marks: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: the annotation or field deciding an at-risk verdict: (what, line, column), when the file says
    decided_at: tuple[str, int, int] | None = None
    blocked: str | None = None  # in-cluster callers a security group drops (hairpin.diagnose.reach)
    #: the families those callers are judged in (IPv4, IPv6: the family each reaches the NLB in)
    blocked_families: list[str] = field(default_factory=list)
    candidates: list[Fix] = field(default_factory=list)  # fixes no release offers yet (ipMode VIP)
    #: in-cluster callers kube-proxy's source-range firewall drops (hairpin.diagnose.proxy_firewall); with
    #: ``certain`` False it is only a warning
    kube_proxy_drop: ProxyDrop | None = None
    #: what hairpin could not decide and the reader should check (not part of the verdict)
    warnings: list[str] = field(default_factory=list)
    #: the Service's spec.ipFamilies and spec.ipFamilyPolicy as written (hairpin.aws.ipfamily)
    ip_families: tuple[str, ...] = ()
    ip_family_policy: str | None = None
    #: the manifest names the namespace (or the object comes from the cluster): commands then say ``-n``
    namespace_set: bool = True

    @property
    def command_namespace(self) -> str | None:
        """The namespace for the fixes' kubectl commands: None when the manifest names none."""
        return self.namespace if self.namespace_set else None

    @property
    def ports_at_risk(self) -> list[PortVerdict]:
        return [p for p in self.ports if p.at_risk]

    @property
    def fix(self) -> str | None:
        return self.fixes[0].command(self.command_namespace, self.name) if self.fixes else None

    def to_json(self) -> dict[str, Any]:
        s = self.settings
        return {
            "namespace": self.namespace,
            "name": self.name,
            "file": self.file,
            "line": self.line,
            "at_risk": self.at_risk,
            "controller": s.controller,
            "load_balancer": s.load_balancer,
            "scheme": s.scheme,
            "target_type": s.target_type,
            "preserve_client_ip": s.preserve_client_ip,
            "reason": self.reason,
            "probability": float(self.probability) if self.probability is not None else None,
            "fix": self.fix,
            "type": self.service_type,
            "ports": [p.to_json() for p in self.ports],
            "ignored_annotations": [x.to_json() for x in self.ignored],
            "security_group_drop": self.blocked,
            "security_group_drop_families": list(self.blocked_families),
            "kube_proxy_drop": self.kube_proxy_drop.to_json() if self.kube_proxy_drop is not None else None,
            "problems": list(s.problems),
            "warnings": list(self.warnings),
            "ip_families": list(self.ip_families),
            "ip_family_policy": self.ip_family_policy,
            "ip_address_type": s.ip_address_type,
            "target_group_ip_address_type": s.tg_ip_address_type,
            "nlb_security_group_mode": s.sg_mode,
            "nlb_security_group_mode_from": s.sg_mode_from,
        }
