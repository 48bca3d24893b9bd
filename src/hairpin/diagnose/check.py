"""``hairpin check``: which LoadBalancer Services can time out in-cluster callers, how likely, and the fix.

For each Service of type LoadBalancer: the controller and its settings (``hairpin.aws.controller``),
then the verdict.  A Service is at risk when an in-cluster caller can be routed back to its own node:
an *internal* NLB with client IP preservation on (instance targets: the caller's node is a target; ip
targets: a target pod shares the caller's node).  With nodes (and pods or EndpointSlices) known, the
probability is the worst caller node's (``hairpin.aws.risk.caller_probability``: registered and
healthy targets per AZ, cross-zone, DNS uniform over the NLB's AZs, assumed to be the AZs with
nodes); without, the reason gives the formula in terms of node count.

Each finding lists the fixes that work for that Service, cheapest first: in-place annotation changes
(the backend then sees the NLB's address instead of the caller's), then pointing in-cluster callers at
the ClusterIP (nothing on the load balancer changes), then recreating the Service under another
controller.  ``Report.to_json()`` is the JSON contract; ``to_sarif()`` is SARIF 2.1.0 for code scanning.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from hairpin.aws import controller as ctl
from hairpin.aws.ignored import Ignored, ignored_annotations
from hairpin.aws.risk import TargetCounts, caller_probability
from hairpin.diagnose.sarif import RULE_ID, deciding_location, to_sarif
from hairpin.errors import InputError
from hairpin.kube.cluster import Cluster, KService
from hairpin.parsers.manifests import KubeObject

__all__ = ["RULE_ID", "Finding", "Fix", "PortVerdict", "Report", "check", "check_cluster"]

IN_TREE_TG_ATTRIBUTES = (1, 34)  # cloud-provider-aws v1.34.0 honours the target group attributes annotation


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

    def yaml(self) -> str | None:
        if not self.annotations:
            return None
        lines = ["metadata:", "  annotations:"]
        lines += [f'    {k}: "{v}"' for k, v in self.annotations]
        return "\n".join(lines)

    def command(self, namespace: str, name: str) -> str:
        if not self.annotations:
            return self.summary
        if self.recreate:
            return (
                f"add these annotations to the Service's manifest, then: kubectl delete service -n {namespace} "
                f"{name} && kubectl apply -f <manifest>"
            )
        pairs = " ".join(f"'{k}={v}'" for k, v in self.annotations)
        return f"kubectl annotate service -n {namespace} {name} {pairs} --overwrite"

    def to_json(self, namespace: str, name: str) -> dict[str, Any]:
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

    @property
    def label(self) -> str:
        return f"{self.port if self.port is not None else '?'}/{self.protocol}"

    def to_json(self) -> dict[str, Any]:
        return {"port": self.port, "protocol": self.protocol, "preserve_client_ip": self.preserve_client_ip,
                "at_risk": self.at_risk,
                "probability": float(self.probability) if self.probability is not None else None,
                "reason": self.reason, "fixes": list(self.fixes)}  # fmt: skip


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

    @property
    def ports_at_risk(self) -> list[PortVerdict]:
        return [p for p in self.ports if p.at_risk]

    @property
    def fix(self) -> str | None:
        return self.fixes[0].command(self.namespace, self.name) if self.fixes else None

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
        }


@dataclass
class Report:
    """Every LoadBalancer Service's finding and every input error.  Renders itself as rich tables."""

    findings: list[Finding]
    errors: list[InputError]
    only_at_risk: bool = False

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        from rich.table import Table
        from rich.text import Text

        shown = self.at_risk if self.only_at_risk else self.findings
        t = Table(title="Services with a load balancer", title_justify="left")
        for col in ("Service", "Where", "Load balancer", "Client IP", "Verdict", "P(timeout)"):
            t.add_column(col, overflow="fold")
        for f in shown:
            s = f.settings
            where = f"{f.file}:{f.line}" if f.file else "cluster"
            verdict = Text("AT RISK", style="bold red") if f.at_risk else Text("ok", style="green")
            prob = "-" if f.probability is None else _pct(f.probability)
            if f.at_risk and f.probability is None:
                prob = "1/n (no nodes)"
            lb = f"{s.controller}: {s.load_balancer}"
            if s.load_balancer != "none":
                lb += f" {s.scheme}" + (f" {s.target_type}" if s.target_type else "")
                lb += ", cross-zone" if s.cross_zone and s.load_balancer == "nlb" else ""
            preserve = {True: "preserved", False: "replaced", None: "-"}[s.preserve_client_ip]
            if len({p.preserve_client_ip for p in f.ports}) > 1:  # say which target group does what
                preserve = ", ".join(f"{p.label} {'preserved' if p.preserve_client_ip else 'replaced'}" for p in f.ports)
            name = f"{f.namespace}/{f.name}" + ("" if f.service_type == "LoadBalancer" else f" ({f.service_type})")
            t.add_row(name, where, lb, preserve, verdict, prob)
        yield t
        for f in self.at_risk:
            yield Text("")
            yield Text(f"{f.namespace}/{f.name}", style="bold")
            yield Text("  how hairpin decided:")
            for step in f.settings.steps:
                yield Text(f"    - {step}")
            for ig in f.ignored:
                yield Text(f"  ignored: {ig.text()}", style="yellow")
            yield Text(f"  verdict: {f.reason}")
            if len(f.ports) > 1 or any(not p.at_risk for p in f.ports):
                yield Text("  per port (target group):")
                for p in f.ports:
                    yield Text(f"    - {p.label}: {'AT RISK' if p.at_risk else 'ok'}: {p.reason}")
            yield Text("  fixes, cheapest first:")
            for i, x in enumerate(f.fixes, 1):
                yield Text(f"    {i}. {x.summary}", style="bold")
                yield Text(f"       cost: {x.cost}")
                y = x.yaml()
                if y is not None:
                    yield Text("       " + y.replace("\n", "\n       "), style="cyan")
                    yield Text(f"       {x.command(f.namespace, f.name)}", style="cyan")
        for f in shown:
            if f.ignored and not f.at_risk:
                yield Text("")
                yield Text(f"{f.namespace}/{f.name}: annotations ignored", style="bold yellow")
                for ig in f.ignored:
                    yield Text(f"  - {ig.text()}")
        risky = len(self.at_risk)
        yield Text("")
        yield Text(
            f"{len(self.findings)} Service(s) with a load balancer, {risky} at risk, {len(self.errors)} input error(s)",
            style="bold red" if risky or self.errors else "bold green",
        )

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
        }

    def to_sarif(self) -> dict[str, Any]:
        return to_sarif(self)


def _pct(p: Fraction) -> str:
    return f"{p.numerator}/{p.denominator} ({float(p):.1%})" if p else "0"


class _Assessor:
    """Per-cluster caches: registered nodes per AZ for each node-label selector."""

    def __init__(self, cluster: Cluster, mutator_webhook: bool | None) -> None:
        self.c = cluster
        self.webhook = mutator_webhook
        v = cluster.kubernetes_version()
        self.in_tree_tg = v is not None and v >= IN_TREE_TG_ATTRIBUTES
        #: the LBC's feature gate ServiceTypeLoadBalancerOnly (pkg/config/feature_gates.go, default off)
        self.lbc_lb_only = cluster.lbc.gate("ServiceTypeLoadBalancerOnly", False) if cluster.lbc else False
        self.nodes_known = cluster.knows_nodes()
        self.eps_known = cluster.knows_endpoints()
        self._registered: dict[tuple[tuple[str, str], ...], tuple[dict[str, int], dict[str, str]]] = {}
        self.azs = tuple(sorted({n.az for n in cluster.nodes.values() if n.az}))
        self.node_az = {n.name: n.az for n in cluster.nodes.values() if n.az}

    def registered(self, labels: tuple[tuple[str, str], ...]) -> tuple[dict[str, int], dict[str, str]]:
        """(count per AZ, node -> AZ) of the nodes registered as instance targets."""
        got = self._registered.get(labels)
        if got is None:
            per_az: dict[str, int] = {}
            nodes: dict[str, str] = {}
            for n in self.c.nodes.values():
                if not n.az or not n.lb_eligible:
                    continue
                if labels and any(n.labels.get(k) != v for k, v in labels):
                    continue
                per_az[n.az] = per_az.get(n.az, 0) + 1
                nodes[n.name] = n.az
            got = (per_az, nodes)
            self._registered[labels] = got
        return got

    def takes(self, svc: KService) -> bool:
        """Type LoadBalancer (the in-tree provider, the LBC, or another class), or any other type the
        AWS Load Balancer Controller reconciles (NodePort, ClusterIP with ip targets)."""
        return svc.type == "LoadBalancer" or ctl.lbc_takes(
            svc.annotations, svc.load_balancer_class, svc.type, load_balancer_only=self.lbc_lb_only
        )

    def assess(self, svc: KService) -> Finding:
        f = self._assess(svc)
        f.ports = _port_verdicts(f)
        f.ignored = list(ignored_annotations(svc.annotations, f.settings, in_tree_tg_attributes=self.in_tree_tg))
        f.marks = svc.marks
        if f.at_risk:
            f.decided_at = deciding_location(svc.annotations, svc.marks)
        return f

    def _assess(self, svc: KService) -> Finding:
        webhook = self.webhook if self.webhook is not None else (self.c.webhook and not svc.existing)
        s = ctl.resolve(
            svc.annotations,
            load_balancer_class=svc.load_balancer_class,
            service_type=svc.type,
            protocols=svc.protocols(),
            external_traffic_policy=svc.external_traffic_policy,
            mutator_webhook=webhook,
            in_tree_tg_attributes=self.in_tree_tg,
            lbc_load_balancer_only=self.lbc_lb_only,
            ports=[_port_of(p) for p in svc.ports],
        )
        f = Finding(svc.namespace, svc.name, svc.file, svc.line, False, s, "", service_type=svc.type)
        if not s.is_nlb:
            if s.load_balancer == "clb":
                f.reason = "Classic ELB: it proxies each connection, so the backend answers the ELB, never the caller"
            else:
                f.reason = s.steps[-1] if s.steps else "no load balancer"
            return f
        if s.scheme != "internal":
            f.reason = (
                "internet-facing NLB: in-cluster callers reach it through the NAT gateway, whose address replaces "
                "theirs, so replies go back through the NLB"
            )
            return f
        if not s.preserve_client_ip:
            f.reason = "internal NLB with client IP preservation off: targets see the NLB's address and answer it"
            return f
        if s.target_type == "instance":
            self._instance(svc, s, f)
        else:
            self._ip(svc, s, f)
        if f.at_risk:
            f.fixes = fixes_for(svc, s, self.in_tree_tg)
        return f

    def _instance(self, svc: KService, s: ctl.Settings, f: Finding) -> None:
        head = "internal NLB, instance targets, client IP preservation on"
        why = (
            "the SYN reaches the caller's own node with the caller's address as source; the reply is de-NATed "
            "there and handed straight to the caller, which resets it, and the connection times out"
        )
        if not self.nodes_known:
            f.at_risk = True
            f.reason = (
                f"{head}: a caller on a registered node is sent back to its own node with P = 1/n for n registered "
                "nodes (cross-zone on, or off with nodes spread evenly over the AZs); cross-zone off: "
                f"P = 1/(k·n_a) for a caller in an AZ with n_a nodes, k AZs in DNS; {why}"
            )
            return
        per_az, nodes = self.registered(s.target_node_labels)
        healthy = dict(per_az)
        local_nodes: set[str] = set()
        if s.external_traffic_policy == "Local" and self.eps_known:
            # the NLB health-checks healthCheckNodePort: only nodes with a ready local endpoint pass
            local_nodes = {str(e.node) for e in self.c.endpoints_of(svc) if e.ready and e.node in nodes}
            healthy = {}
            for n in local_nodes:
                healthy[nodes[n]] = healthy.get(nodes[n], 0) + 1
        local = s.external_traffic_policy == "Local" and self.eps_known
        # the probability depends only on the caller node's AZ and health: one try per (AZ, health) class
        best: Fraction = Fraction(0)
        best_class: tuple[str, bool] | None = None
        for az in sorted(per_az):
            ok_here = healthy.get(az, 0)
            for ok in (True, False):
                if (ok and ok_here == 0) or (not ok and per_az[az] - ok_here == 0):
                    continue
                c = TargetCounts(per_az, healthy, az, 1, int(ok), self.azs)
                p = caller_probability(c, cross_zone=s.cross_zone)
                if best_class is None or p > best:
                    best, best_class = p, (az, ok)
        best_node: str | None = None
        if best_class is not None:
            az, ok = best_class
            best_node = min(name for name, a in nodes.items() if a == az and (not local or (name in local_nodes) == ok))
        f.probability = best
        f.worst_node = best_node
        f.at_risk = best > 0
        total = sum(per_az.values())
        if best_node is None:
            f.reason = f"{head}, but no node is registered as a target, so no caller can be sent back to its own node"
            return
        if not f.at_risk:
            f.reason = f"{head}, but no registered node can be chosen for an in-cluster caller"
            return
        az = nodes[best_node]
        shape = ", ".join(f"{a}: {per_az.get(a, 0)}" for a in self.azs)
        health = ""
        if s.external_traffic_policy == "Local":
            health = f"; externalTrafficPolicy Local: {sum(healthy.values())} node(s) with a ready endpoint pass the health check"
        f.reason = (
            f"{head}: a caller on node {best_node} ({az}) is sent back to its own node with P = {_pct(best)} "
            f"({total} registered nodes, per AZ {shape}; cross-zone {'on' if s.cross_zone else 'off'}; DNS uniform over "
            f"{len(self.azs)} AZ address(es){health}); {why}"
        )

    def _ip(self, svc: KService, s: ctl.Settings, f: Finding) -> None:
        head = "internal NLB, ip targets, client IP preservation on"
        why = "the target pod answers the caller directly on their shared node, the caller resets it, and it times out"
        if not (self.nodes_known and self.eps_known):
            f.at_risk = True
            f.reason = (
                f"{head}: a caller on a node that runs m of the service's |T| target pods is sent back to that node "
                f"with P = m/|T| (cross-zone on; off: m/|T_a| for the caller's AZ, averaged over the AZs in DNS); {why}"
            )
            return
        per_node: dict[str, int] = {}
        per_az: dict[str, int] = {}
        for e in self.c.endpoints_of(svc):
            if not e.ready or e.node not in self.node_az:
                continue
            per_node[e.node] = per_node.get(e.node, 0) + 1
            az = self.node_az[e.node]
            per_az[az] = per_az.get(az, 0) + 1
        best: Fraction = Fraction(0)
        best_node: str | None = None
        for node, m in sorted(per_node.items(), key=lambda kv: (-kv[1], kv[0])):
            c = TargetCounts(per_az, per_az, self.node_az[node], m, m, self.azs)
            p = caller_probability(c, cross_zone=s.cross_zone)
            if p > best:
                best, best_node = p, node
        f.probability = best
        f.worst_node = best_node
        f.at_risk = best > 0
        if best_node is None:
            f.reason = f"{head}, but the Service has no ready target pod on a known node"
            return
        total = sum(per_az.values())
        f.reason = (
            f"{head}: a caller on node {best_node} ({self.node_az[best_node]}), which runs {per_node[best_node]} of "
            f"the {total} target pods, is sent back to a pod on its own node with P = {_pct(best)} (cross-zone "
            f"{'on' if s.cross_zone else 'off'}; DNS uniform over {len(self.azs)} AZ address(es)); {why}"
        )


def _port_of(p: dict[str, Any]) -> tuple[int | None, str]:
    number = p.get("port")
    return (number if isinstance(number, int) else None), str(p.get("protocol") or "TCP")


def _port_verdicts(f: Finding) -> list[PortVerdict]:
    """Per target group: at risk when the Service's NLB is (internal, a caller can land on its own node)
    and this target group preserves the client IP; the Service's verdict is the worst of its ports'."""
    s = f.settings
    out: list[PortVerdict] = []
    for tg in s.target_groups:
        if not tg.preserve_client_ip:
            reason = f"{tg.why}: targets see the NLB's address and answer it"
            out.append(PortVerdict(tg.port, tg.protocol, False, False, Fraction(0) if f.at_risk else None, reason))
        elif f.at_risk:
            p = f"P = {_pct(f.probability)}" if f.probability is not None else "P as given for the Service"
            out.append(PortVerdict(tg.port, tg.protocol, True, True, f.probability, f"{tg.why}: at risk, {p}",
                                   tuple(x.name for x in f.fixes)))  # fmt: skip
        else:
            out.append(PortVerdict(tg.port, tg.protocol, True, False, f.probability, f"{tg.why}; {f.reason}"))
    return out


def _tg_value(svc: KService, preserve: str) -> str:
    attrs = ctl.parse_map(svc.annotations.get(ctl.TG_ATTRIBUTES, ""))
    attrs["preserve_client_ip.enabled"] = preserve
    return ",".join(f"{k}={v}" if v else k for k, v in attrs.items())


def fixes_for(svc: KService, s: ctl.Settings, in_tree_tg: bool) -> list[Fix]:
    """The workarounds that work for this Service, cheapest first."""
    out: list[Fix] = []
    udp = any(p.upper() in ("UDP", "TCP_UDP") for p in svc.protocols())
    lose_ip = (
        "the backend sees the NLB's private address instead of the caller's, for every client (Proxy Protocol v2 "
        "can carry the client address if the backend reads it)"
    )
    if not udp and (s.controller == ctl.LBC or in_tree_tg):
        out.append(
            Fix(
                "no-preserve-client-ip",
                "turn client IP preservation off on the target group",
                lose_ip,
                ((ctl.TG_ATTRIBUTES, _tg_value(svc, "false")),),
            )
        )
    if not udp and s.controller == ctl.LBC and not s.proxy_protocol_v2:
        # LBC annotation "*" turns on the target group attribute proxy_protocol_v2.enabled
        # (https://kubernetes-sigs.github.io/aws-load-balancer-controller/v2.2/guide/service/annotations/);
        # health check connections carry the header too ("Edit target group attributes", Proxy protocol)
        out.append(
            Fix(
                "proxy-protocol-v2",
                "turn client IP preservation off and Proxy Protocol v2 on: the caller's address reaches the "
                "backend in the PPv2 header",
                "every backend must parse PPv2 (nginx: listen ... proxy_protocol; set_real_ip_from) and so must "
                "its health check port; a backend that does not reads the header as garbage and breaks",
                ((ctl.TG_ATTRIBUTES, _tg_value(svc, "false")), (ctl.PROXY_PROTOCOL, "*")),
            )
        )
    tg_forces = ctl.parse_map(svc.annotations.get(ctl.TG_ATTRIBUTES, "")).get("preserve_client_ip.enabled") == "true"
    if s.controller == ctl.LBC and s.target_type == "instance" and not udp and not tg_forces:
        out.append(
            Fix(
                "ip-targets",
                "register pods (ip targets) instead of nodes; preservation is off by default for ip targets with TCP",
                f"the target group is replaced (targets re-register); {lose_ip}; pods need VPC addresses (AWS VPC CNI)",
                ((ctl.TARGET_TYPE, "ip"),),
            )
        )
    # the first port whose target group preserves the client IP (the one at risk), else the first port
    port = next((tg.port for tg in s.target_groups if tg.preserve_client_ip),
                svc.ports[0].get("port") if svc.ports else None)  # fmt: skip
    dns = f"{svc.name}.{svc.namespace}.svc.cluster.local" + (f":{port}" if port else "")
    out.append(
        Fix(
            "cluster-ip",
            f"point in-cluster callers at {dns} (the ClusterIP) instead of the load balancer's DNS name",
            "every in-cluster caller's configuration changes; the load balancer and the client IP stay as they are",
        )
    )
    if s.target_type == "ip" and s.preserve_client_ip:
        out.append(
            Fix(
                "anti-affinity",
                "keep target pods off the nodes that run their in-cluster callers (podAntiAffinity "
                "requiredDuringSchedulingIgnoredDuringExecution on the callers' labels)",
                "covers only the callers the rule names; pods may become unschedulable; any caller scheduled next "
                "to a target pod later still times out with the same probability",
            )
        )
    if s.controller == ctl.IN_TREE and not udp:
        out.append(
            Fix(
                "recreate-ip-targets",
                "recreate the Service for the AWS Load Balancer Controller with ip targets (changing "
                "aws-load-balancer-type in place leaks the old load balancer)",
                f"a new NLB with a new DNS name replaces the old one; needs the AWS Load Balancer Controller; {lose_ip}",
                ((ctl.TYPE, "external"), (ctl.TARGET_TYPE, "ip"), (ctl.SCHEME, "internal")),
                recreate=True,
            )
        )
    return out


def check_cluster(cluster: Cluster, *, mutator_webhook: bool | None = None,
                  errors: Iterable[InputError] = ()) -> Report:  # fmt: skip
    """Assess every LoadBalancer Service of the cluster.

    ``mutator_webhook``: None: apply the LBC webhook to manifests (Services not yet created) when the
    input shows the webhook installed; True/False: assume it is (not) installed.
    """
    a = _Assessor(cluster, mutator_webhook)
    findings = [a.assess(s) for s in cluster.services if a.takes(s)]
    findings.sort(key=lambda f: (not f.at_risk, f.namespace, f.name))
    return Report(findings, list(errors))


def check(objects: Iterable[KubeObject], *, mutator_webhook: bool | None = None,
          errors: Iterable[InputError] = ()) -> Report:  # fmt: skip
    """``check_cluster`` on parsed objects."""
    return check_cluster(Cluster.from_objects(objects), mutator_webhook=mutator_webhook, errors=errors)
