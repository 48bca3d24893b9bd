"""``hairpin check``: which LoadBalancer Services can time out in-cluster callers, how likely, and the fix.

For each Service of type LoadBalancer: the controller and its settings (``hairpin.aws.controller``; the IP
families of the load balancer and its target groups, or the controller's refusal, ``hairpin.aws.ipfamily``),
then the verdict.  A Service is at risk when an in-cluster caller can be routed back to its own node:
an *internal* NLB with client IP preservation on (instance targets: the caller's node is a target; ip
targets: a target pod shares the caller's node).  With nodes (and pods or EndpointSlices) known, the
probability is the worst caller node's (``hairpin.aws.risk.caller_probability``: registered and
healthy targets per AZ, cross-zone, DNS uniform over the NLB's AZs, assumed to be the AZs with
nodes); without, the reason gives the formula in terms of node count.

Each finding lists the fixes that work for that Service, cheapest first: in-place annotation changes
(the backend then sees the NLB's address instead of the caller's), then pointing in-cluster callers at
the ClusterIP (nothing on the load balancer changes), then recreating the Service under another
controller (``hairpin.diagnose.fixes``).  ``Report.to_json()`` is the JSON contract; ``to_sarif()`` is SARIF 2.1.0 for code scanning.
``Report.datapath``: what translates Services when not kube-proxy, whose NAT the verdicts model (hairpin.kube.datapath).
``Report`` (``hairpin.diagnose.report``) holds the findings with what was assumed of the cluster.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from fractions import Fraction
from typing import Any

from hairpin.aws import automode, cloud_config, gateway, ipfamily, providers
from hairpin.aws import controller as ctl
from hairpin.aws.ignored import ignored_annotations
from hairpin.aws.lbc_flags import with_release
from hairpin.aws.risk import TargetCounts, caller_probability
from hairpin.diagnose import cloud_sg, families, proxy_firewall, reach, refused, tgb
from hairpin.diagnose.consequence import consequence
from hairpin.diagnose.finding import Finding, Fix, PortVerdict
from hairpin.diagnose.fixes import IPMODE_FIX, fixes_for
from hairpin.diagnose.report import Report
from hairpin.diagnose.sarif import RULE_ID, deciding_location
from hairpin.diagnose.versions import (
    Versions,
    in_tree_support,
    kube_proxy_warnings,
    lbc_problems,
    lbc_said,
    lbc_warnings,
    nlb_sg_mode,
    oldest_kube_proxy,
)
from hairpin.errors import InputError
from hairpin.kube import apivalidation, ipmode
from hairpin.kube.cluster import Cluster, KService
from hairpin.kube.datapath import assess
from hairpin.parsers.manifests import KubeObject

__all__ = ["RULE_ID", "Finding", "Fix", "PortVerdict", "Report", "Versions", "check", "check_cluster"]

SUBNETS = ctl.annotation("aws-load-balancer-subnets")


def _pct(p: Fraction) -> str:
    return f"{p.numerator}/{p.denominator} ({float(p):.1%})" if p else "0"


class _Assessor:
    """Per-cluster caches: registered nodes per AZ for each node-label selector."""

    def __init__(self, cluster: Cluster, mutator_webhook: bool | None, versions: Versions | None = None,
                 auto_mode: bool | None = None) -> None:  # fmt: skip
        self.c = cluster
        self.kube_proxy = oldest_kube_proxy(cluster, (versions or Versions()).kube_proxy)
        self.webhook = mutator_webhook
        self.auto_mode = auto_mode
        # EKS Auto Mode's nodes carry eks.amazonaws.com/compute-type=auto (its docs select them so)
        self.auto_nodes = any(n.labels.get(automode.NODE_LABEL) == "auto" for n in cluster.nodes.values())
        self.in_tree = in_tree_support(cluster, versions or Versions())
        self.in_tree_tg = self.in_tree.honoured is True
        self.sg_mode = nlb_sg_mode(cluster, versions or Versions())
        #: the LBC's feature gate ServiceTypeLoadBalancerOnly (pkg/config/feature_gates.go, default off)
        self.lbc_lb_only = cluster.lbc.gate("ServiceTypeLoadBalancerOnly", False) if cluster.lbc else False
        self.nodes_known = cluster.knows_nodes()
        self.eps_known = cluster.knows_endpoints()
        self._registered: dict[tuple[tuple[tuple[str, str], ...], tuple[str, ...]],
                               tuple[dict[str, int], dict[str, str]]] = {}  # fmt: skip
        self._node_order: dict[tuple[tuple[tuple[str, str], ...], tuple[str, ...]], dict[str, list[str]]] = {}
        self.azs = tuple(sorted({n.az for n in cluster.nodes.values() if n.az}))
        self.node_az = {n.name: n.az for n in cluster.nodes.values() if n.az}
        # the nodes' InternalIPs, else the VPC CNI's IPv6 mode (hairpin.kube.cni_mode)
        self.primary, self.primary_from, self.primary_doubt = families.cluster_primary(cluster)

    def registered(self, labels: tuple[tuple[str, str], ...],
                   keys: tuple[str, ...] = ()) -> tuple[dict[str, int], dict[str, str]]:  # fmt: skip
        """(count per AZ, node -> AZ) of the nodes registered as instance targets: those with ``labels``, and
        with ``keys`` whatever their values (the in-tree provider's ``key`` or ``key=``)."""
        got = self._registered.get((labels, keys))
        if got is None:
            per_az: dict[str, int] = {}
            nodes: dict[str, str] = {}
            for n in self.c.nodes.values():
                if not n.az or not n.lb_eligible:
                    continue
                if labels and any(n.labels.get(k) != v for k, v in labels):
                    continue
                if keys and any(k not in n.labels for k in keys):
                    continue
                per_az[n.az] = per_az.get(n.az, 0) + 1
                nodes[n.name] = n.az
            got = (per_az, nodes)
            self._registered[(labels, keys)] = got
        return got

    def _sorted_in_az(self, sel: tuple[tuple[tuple[str, str], ...], tuple[str, ...]], nodes: dict[str, str],
                      az: str) -> list[str]:  # fmt: skip
        """The names of ``nodes`` (``registered(labels)``'s) in ``az``, sorted: the first is the least name a
        verdict names, found once per target labels instead of once per Service (1,000 Services x 5,000 nodes)."""
        by_az = self._node_order.get(sel)
        if by_az is None:
            by_az = {}
            for name, a in nodes.items():
                by_az.setdefault(a, []).append(name)
            for names in by_az.values():
                names.sort()
            self._node_order[sel] = by_az
        return by_az[az]

    def takes(self, svc: KService) -> bool:
        """Type LoadBalancer (the in-tree provider, the LBC, or another class), or any other type the
        AWS Load Balancer Controller reconciles (NodePort, ClusterIP with ip targets)."""
        return svc.type == "LoadBalancer" or ctl.lbc_takes(
            svc.annotations, svc.load_balancer_class, svc.type, load_balancer_only=self.lbc_lb_only, flags=self.c.lbc
        )

    def assess(self, svc: KService) -> Finding:
        """The hairpin verdict, then the callers a security group drops (``hairpin.diagnose.reach``)."""
        s = self._settings(svc)
        f = self.judge(svc, s, Finding(svc.namespace, svc.name, svc.file, svc.line, False, s, "", service_type=svc.type))
        if s.warnings:  # what the IP families leave undecided (hairpin.aws.ipfamily)
            f.warnings[:0] = s.warnings
        # what the API server took but warned of when the Service was applied (non-standard forms of the ranges)
        f.warnings.extend(f"the API server (Kubernetes 1.33 and later) warns: {w}"
                          for w in apivalidation.source_range_warnings(svc.source_ranges))  # fmt: skip
        f.ignored = list(ignored_annotations(svc.annotations, f.settings, in_tree_tg_attributes=self.in_tree_tg))
        if f.settings.controller == automode.AUTO_MODE:
            f.ignored = list(automode.ignored(svc.annotations))
        f.marks = svc.marks
        f.ip_families, f.ip_family_policy = svc.ip_families, svc.ip_family_policy
        f.namespace_set = svc.namespace_set
        if not svc.namespace_set and f.fixes:  # said where commands are shown
            f.warnings.append(f"metadata.namespace is not set: hairpin shows the Service as {svc.namespace}/{svc.name}, "
                              "but kubectl creates it in the namespace of the command that applies it (-n, else the "
                              "context's); the fixes' commands leave -n out to match")  # fmt: skip
        if f.at_risk:
            f.decided_at = deciding_location(svc.annotations, svc.marks)
        return f

    def _backend(self, tg: gateway.TargetGroup) -> KService:
        ns, name = tg.service
        svc = next((x for x in self.c.services if (x.namespace, x.name) == tg.service), None)
        if svc is None:  # not in the input: nodes still decide instance targets
            svc = KService(ns, name, "ClusterIP", None, [{"port": tg.port}], {}, "Cluster", None, {}, None, None, None,
                           False)  # fmt: skip
        return svc

    def gateway_settings(self, tgs: list[gateway.TargetGroup]) -> list[ctl.Settings]:
        """Each target group's settings with the IP families (the backend Service's spec.ipFamilies, the Gateway's
        ipAddressType: ``hairpin.aws.ipfamily``).  A refused target group fails its Gateway's whole model build
        (pkg/gateway/model/model_build_listener.go returns the error), so no target group of that Gateway is built."""
        off = self.c.lbc.nlb_gateways_off() if self.c.lbc is not None else None
        if off is not None:  # main.go starts no NLB Gateway reconciler: nothing is built for any Gateway
            return [ctl.not_built(tg.settings.external_traffic_policy, [
                f"Gateway {tg.gateway[0]}/{tg.gateway[1]}: {off}, so it reconciles no Gateway of an NLB GatewayClass: "
                "no NLB is built (one built before stays as it was)"], (f"{off}: NLB Gateways are not reconciled",))
                for tg in tgs]  # fmt: skip
        out = []
        for tg in tgs:
            svc = self._backend(tg)
            out.append(tg.settings if tg.lb_type is None else ipfamily.apply(
                tg.settings, {}, svc.ip_families, svc.ip_family_policy, svc.existing, self.primary, tg.lb_type,
                svc.cluster_ips, self.primary_from, self.primary_doubt))
        failed: dict[tuple[str, str], tuple[str, ctl.Settings]] = {}
        for tg, s in zip(tgs, out, strict=True):
            if s.controller == ctl.NONE and tg.lb_type is not None:
                failed.setdefault(tg.gateway, (tg.name, s))
        out = [ipfamily.gateway_failed(s, *failed[tg.gateway])
               if tg.gateway in failed and s.controller != ctl.NONE else s for tg, s in zip(tgs, out, strict=True)]
        # an image newer than the newest release read; routes or configurations read at an older version than
        # v3.5.0's CRD detection needs (hairpin.aws.gateway_crd.served_warning); said once by check_cluster
        said = lbc_said(self.c)
        if said:
            out = [dataclasses.replace(s, warnings=(*said, *s.warnings)) for s in out]
        return out

    def assess_target_group(self, tg: gateway.TargetGroup, s: ctl.Settings | None = None) -> Finding:
        """The same verdict for a Gateway's target group (settings ``s``, from ``gateway_settings``; else
        ``tg.settings``); fixes as patches of the Gateway API objects."""
        s = s if s is not None else tg.settings
        svc = self._backend(tg)
        if s.is_nlb and s.target_type == "instance" and svc.external_traffic_policy == "Local":
            # the Gateway path health-checks instance targets of a Local backend on its healthCheckNodePort, as the
            # Service path does (pkg/gateway/model/model_build_target_group.go buildTargetGroupHealthCheckConfig)
            s = dataclasses.replace(s, external_traffic_policy="Local", steps=(
                *s.steps, f"externalTrafficPolicy Local (the backend Service {svc.namespace}/{svc.name}): only nodes "
                "with a ready endpoint pass the health check"))  # fmt: skip
        families, policy = svc.ip_families, svc.ip_family_policy
        port = next((p for p in svc.ports if p.get("port") == tg.port), None)
        svc = dataclasses.replace(svc, annotations={}, ingress=(), source_ranges=(), ports=[port] if port else svc.ports)
        given = None
        if tg.lbc is not None:
            given = (tg.source_ranges, "the LoadBalancerConfiguration's sourceRanges",
                     f"loadbalancerconfiguration -n {tg.lbc[0]} {tg.lbc[1]}")  # fmt: skip
        f = self.judge(svc, s, Finding(tg.namespace, tg.name, tg.file, tg.line, False, s, "", service_type="Gateway"),
                       given)  # fmt: skip
        if s.warnings:
            f.warnings[:0] = s.warnings
        f.ip_families, f.ip_family_policy = families, policy
        patches = [Fix(p.name, p.summary, p.cost, yaml_text=p.yaml, command_text=p.command) for p in tg.fixes]
        head = [x for x in f.fixes if x.name == "source-ranges"]
        f.fixes = [*head, *patches, *(x for x in f.fixes if x.name in ("cluster-ip", "anti-affinity"))] if f.at_risk else []
        return f

    def judge(self, svc: KService, s: ctl.Settings, f: Finding,
              given: tuple[tuple[str, ...], str, str] | None = None) -> Finding:  # fmt: skip
        """``f`` with the verdict on a load balancer with settings ``s`` in front of ``svc``'s endpoints, then
        kube-proxy's own source-range drop on the addresses it captures (``hairpin.diagnose.proxy_firewall``)."""
        f = self._judge(svc, s, f, given)
        if svc.type == "LoadBalancer":
            proxy_firewall.apply(self.c, svc, f, kube_proxy=self.kube_proxy, eps_known=self.eps_known,
                                 azs=self.azs if self.nodes_known else None, primary=self.primary)  # fmt: skip
        return f

    def _judge(self, svc: KService, s: ctl.Settings, f: Finding,
               given: tuple[tuple[str, ...], str, str] | None = None) -> Finding:  # fmt: skip
        f = self._hairpin(svc, s, f)
        f.ports = _port_verdicts(f)
        if f.settings.is_nlb and self._captured(svc, f):
            f.ports = _port_verdicts(f)
            return f
        b = reach.assess(self.c, svc, f.settings, given=given)
        if b is not None and b.steps:  # what hairpin assumed (an IPv6 target group's default ranges)
            steps = f.settings.steps
            f.settings = dataclasses.replace(f.settings, steps=(*steps[:-1], *b.steps, *steps[-1:]))
        if b is not None:
            f.warnings.extend(b.warnings)
        f.warnings.extend(cloud_sg.warnings(self.c, svc, f.settings, b, self.sg_mode, given))
        if b is None or (b.problem is None and not b.callers):
            if f.at_risk:
                f.candidates.append(IPMODE_FIX)
            return f
        if b.problem is not None:
            f.settings = dataclasses.replace(f.settings, problems=(*f.settings.problems, b.problem))
            return f
        f.ports = [
            PortVerdict(tg.port, tg.protocol, tg.preserve_client_ip, True, Fraction(1), f"{tg.why}; {b.reason}")
            if b.where == "nlb" or tg.preserve_client_ip
            else PortVerdict(tg.port, tg.protocol, False, False, Fraction(0), f"{tg.why}: targets see the NLB's address")
            for tg in f.settings.target_groups
        ]
        f.reason = f"{f.reason}; second failure: {b.reason}" if f.at_risk else f"{b.reason} ({f.reason})"
        f.at_risk, f.probability, f.worst_node, f.blocked = True, Fraction(1), b.node, b.reason
        f.blocked_families = list(b.families)
        fix = Fix("source-ranges", f"admit the in-cluster callers' network in the source ranges: {b.patch}",
                  reach.fix_cost(b.families))  # fmt: skip
        f.fixes = [fix, *f.fixes]
        f.candidates.append(IPMODE_FIX)
        return f

    def _captured(self, svc: KService, f: Finding) -> bool:
        """ipMode VIP addresses in the status: kube-proxy keeps calls to them on the node (``hairpin.kube.ipmode``).
        True when they cover every NLB address (one per AZ with nodes): no in-cluster caller reaches the NLB."""
        cap = ipmode.capture(svc.ingress, self.kube_proxy)
        # each family's proxier captures the addresses of its family, for a Service of that family (families.py)
        served = families.proxy_families(svc, self.primary)
        ips = sorted({a for a in cap.captured if families.version(a) in served})
        if not ips:
            return False
        if not svc.existing:
            # a manifest's status is not applied: the API server resets a Service's status on create
            # (pkg/registry/core/service/strategy.go PrepareForCreate) and only the controller writes it
            f.warnings.append(
                "status.loadBalancer.ingress comes from a manifest, not from the cluster: the API server discards a "
                "Service's status when it is created, and only the load balancer controller writes it (no AWS "
                "controller publishes ipMode VIP addresses as of 2026-12-01); the verdict holds only if it does"
            )
        # the hairpin is for callers of the target group's family; a dualstack NLB has one address per AZ and family
        fam = families.tg_family(f.settings.tg_ip_address_type)
        own = [a for a in ips if families.version(a) == fam]
        text = (f"kube-proxy handles in-cluster calls to {', '.join(ips)} (status.loadBalancer.ingress with ipMode VIP) "
                f"on the caller's own node, so they never reach the NLB ({cap.note})")  # fmt: skip
        if len(own) < len(ips) or fam == 6:
            name = families.NAMES[fam]
            seen = (f"{len(own)} {name} address(es) for {len(self.azs)} AZ(s)" if self.nodes_known
                    else "no nodes in the input")  # fmt: skip
            if self.nodes_known and len(own) >= len(self.azs):
                f.reason = (f"{text}; the NLB has one {name} address per AZ ({len(self.azs)}) and the status lists "
                            f"{len(own)}: no in-cluster caller over {name}, the family the target group keeps the "
                            "caller's address in, reaches the NLB.  Residual risk: a caller that connects to an NLB "
                            f"address not in the status still does ({f.reason})")  # fmt: skip
                f.at_risk, f.probability, f.worst_node, f.fixes = False, Fraction(0), None, []
                return True
            f.reason += (f"; {text}, but callers over {name} (the family the target group keeps the caller's address "
                         f"in) that resolve another NLB address still reach it ({seen})")  # fmt: skip
            return False
        if self.nodes_known and len(ips) >= len(self.azs):
            f.reason = (
                f"{text}; the NLB has one address per AZ ({len(self.azs)}) and the status lists {len(ips)}: no in-cluster "
                f"caller of these addresses or of the NLB's DNS name reaches the NLB.  Residual risk: a caller that "
                f"connects to an NLB address not in the status still does ({f.reason})"
            )
            f.at_risk, f.probability, f.worst_node, f.fixes = False, Fraction(0), None, []
            return True
        seen = f"{len(ips)} address(es) for {len(self.azs)} AZ(s)" if self.nodes_known else "no nodes in the input"
        f.reason += f"; {text}, but callers that resolve another NLB address still reach it ({seen})"
        return False

    def _settings(self, svc: KService) -> ctl.Settings:
        """What the responsible controller builds for ``svc`` (with Auto Mode's default class and the webhook)."""
        webhook = self.webhook if self.webhook is not None else (self.c.webhook and not svc.existing)
        cls, default_step = svc.load_balancer_class, ""
        if cls is None and not svc.existing and svc.type == "LoadBalancer" and not self.webhook:
            auto = self.auto_mode if self.auto_mode is not None else self.auto_nodes
            if auto and webhook:  # both mutate classless Services; the input does not say which runs last
                default_step = (f"EKS Auto Mode nodes ({automode.NODE_LABEL}=auto) and the AWS Load Balancer "
                                "Controller's webhook are both in the input: hairpin assumed the webhook's class")  # fmt: skip
            elif auto:
                cls = automode.AUTO_CLASS
                why = "--auto-mode" if self.auto_mode else f"nodes labelled {automode.NODE_LABEL}=auto"
                default_step = (f"no loadBalancerClass: EKS Auto Mode sets {automode.AUTO_CLASS} as the cluster's "
                                f"default class ({why})")  # fmt: skip
        s = providers.resolve(
            svc.annotations,
            load_balancer_class=cls,
            service_type=svc.type,
            protocols=svc.protocols(),
            external_traffic_policy=svc.external_traffic_policy,
            mutator_webhook=webhook,
            in_tree=self.in_tree,
            lbc_load_balancer_only=self.lbc_lb_only,
            ports=[_port_of(p) for p in svc.ports],
            lbc=self.c.lbc,
        )
        if default_step:
            s = dataclasses.replace(s, steps=(default_step, *s.steps))
        if s.controller == ctl.IN_TREE and s.load_balancer in ("nlb", "clb"):
            s = refused.in_tree(svc, s, self.in_tree_tg)
        if s.controller == ctl.LBC and s.target_type == "instance":
            s = refused.lbc_instance(svc, s)
        if s.controller == ctl.LBC and s.security_groups and self.c.lbc and not self.c.lbc.gate("NLBSecurityGroup", True):
            # pkg/config/feature_gates.go: NLBSecurityGroup, default on; off: NLBs without security groups
            steps = [t for t in s.steps if not t.startswith("security groups on the NLB")]
            steps.insert(len(steps) - 1, f"no security groups on the NLB: feature gate NLBSecurityGroup=false ({self.c.lbc.source})")
            s = dataclasses.replace(s, security_groups=False, steps=tuple(steps))
        s = ipfamily.apply(s, svc.annotations, svc.ip_families, svc.ip_family_policy, svc.existing, self.primary,
                           ips=svc.cluster_ips, primary_from=self.primary_from, doubt=self.primary_doubt)
        s = cloud_config.apply(s, svc.annotations, self.sg_mode, existing=svc.existing)
        return ipfamily.v6_range_refusal(s, svc.source_ranges, svc.annotations)

    def _hairpin(self, svc: KService, s: ctl.Settings, f: Finding) -> Finding:
        """The hairpin verdict for ``svc``'s endpoints under settings ``s``, written into ``f``."""
        if s.broken is not None:  # nothing reaches the targets (an IPv6-only Service behind an IPv4 load balancer)
            f.reason = s.broken
            return f
        if not s.is_nlb:
            if s.load_balancer == "clb":
                f.reason = "Classic ELB: it proxies each connection, so the backend answers the ELB, never the caller"
            else:
                f.reason = s.steps[-1] if s.steps else "no load balancer"
            return f
        # The VPC CNI's SNAT settings (external SNAT, its port randomisation, the CIDRs excluded from it) decide no
        # verdict: a pod's packet to an internal NLB (in the VPC) is never SNATed by the CNI, and an internet-facing
        # NLB sees the NAT gateway's address whatever the node sends it (hairpin.kube.cni_snat says why in full)
        if s.scheme != "internal":
            f.reason = (
                "internet-facing NLB: in-cluster callers reach it through the NAT gateway, whose address replaces "
                "theirs, so replies go back through the NLB"
            )
            return f
        if not s.preserve_client_ip:
            f.reason = "internal NLB with client IP preservation off: targets see the NLB's address and answer it"
            if s.controller == ctl.IN_TREE and ctl.TG_ATTRIBUTES in svc.annotations:
                f.reason += f" ({self.in_tree.note})"
            return f
        if s.target_type == "instance":
            self._instance(svc, s, f)
        else:
            self._ip(svc, s, f)
        if f.at_risk and f.probability is not None and SUBNETS in svc.annotations:
            # both controllers build the NLB in the subnets the annotation names, one per AZ (cloud-provider-aws
            # getLoadBalancerSubnets; the LBC's docs/guide/service/annotations.md): which AZs is not in the input, and
            # targets in an AZ the NLB is not enabled in receive no traffic, cross-zone or not (Elastic Load Balancing
            # User Guide, "How Elastic Load Balancing works", Availability Zones and load balancer nodes)
            f.warnings.append(
                f"{SUBNETS} names the NLB's subnets; their AZs are not in Kubernetes objects, and P assumes the NLB "
                f"has an address in every AZ with nodes ({', '.join(self.azs)}): an NLB in fewer AZs sends every "
                "connection to the targets in its own AZs, so a caller there is sent back to its own "
                "node more often than P says, and a caller elsewhere never is"
            )
        if f.at_risk:
            f.reason += ipfamily.caller_note(s)
            f.fixes = fixes_for(svc, s, self.in_tree_tg, self.c.lbc)
            if s.controller == ctl.IN_TREE and ctl.TG_ATTRIBUTES in svc.annotations:
                f.reason += f" (assumed: {self.in_tree.note})"
        return f

    def _instance(self, svc: KService, s: ctl.Settings, f: Finding) -> None:
        head = "internal NLB, instance targets, client IP preservation on"
        why = consequence([tg.protocol for tg in s.target_groups if tg.preserve_client_ip], "instance")
        if not self.nodes_known:
            f.at_risk = True
            f.reason = (
                f"{head}: a caller on a registered node is sent back to its own node with P = 1/n for n registered "
                "nodes (cross-zone on, or off with nodes spread evenly over the AZs); cross-zone off: "
                f"P = 1/(k·n_a) for a caller in an AZ with n_a nodes, k AZs in DNS; {why}"
            )
            return
        per_az, nodes = self.registered(s.target_node_labels, s.target_node_keys)
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
            if not local:
                best_node = self._sorted_in_az((s.target_node_labels, s.target_node_keys), nodes, az)[0]
            elif ok:
                best_node = min(name for name in local_nodes if nodes[name] == az)
            else:
                best_node = next(n for n in self._sorted_in_az((s.target_node_labels, s.target_node_keys), nodes, az) if n not in local_nodes)
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
        if local:
            health = f"; externalTrafficPolicy Local: {sum(healthy.values())} node(s) with a ready endpoint pass the health check"
        elif s.external_traffic_policy == "Local":
            health = ("; externalTrafficPolicy Local, but the input has no pods or EndpointSlices: every registered node "
                      "assumed to pass the health check (only nodes with a ready endpoint do; give them for the exact P)")
        f.reason = (
            f"{head}: a caller on node {best_node} ({az}) is sent back to its own node with P = {_pct(best)} "
            f"({total} registered nodes, per AZ {shape}; cross-zone {'on' if s.cross_zone else 'off'}; DNS uniform over "
            f"{len(self.azs)} AZ address(es){health}); {why}"
        )

    def _ip(self, svc: KService, s: ctl.Settings, f: Finding) -> None:
        head = "internal NLB, ip targets, client IP preservation on"
        why = consequence([tg.protocol for tg in s.target_groups if tg.preserve_client_ip], "ip")
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
        # the probability depends only on the caller node's AZ and its number of target pods: once per class
        by_class: dict[tuple[str, int], Fraction] = {}
        for node, m in sorted(per_node.items(), key=lambda kv: (-kv[1], kv[0])):
            cls = (self.node_az[node], m)
            p = by_class.get(cls)
            if p is None:
                c = TargetCounts(per_az, per_az, cls[0], m, m, self.azs)
                p = by_class[cls] = caller_probability(c, cross_zone=s.cross_zone)
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


def check_cluster(cluster: Cluster, *, mutator_webhook: bool | None = None, errors: Iterable[InputError] = (),
                  versions: Versions | None = None, auto_mode: bool | None = None) -> Report:  # fmt: skip
    """Assess every LoadBalancer Service of the cluster.

    ``mutator_webhook``: None: apply the LBC webhook to manifests (Services not yet created) when the
    input shows the webhook installed; True/False: assume it is (not) installed.  ``versions``: what is
    known of the Kubernetes and cloud provider versions (else the newest kubelet, a lower bound).
    ``auto_mode``: None: manifests without a class go to EKS Auto Mode when the input has Auto Mode nodes;
    True/False: the cluster does (not) use Auto Mode's default class.  ``versions.lbc`` (--lbc-version) replaces
    ``cluster.lbc`` with the controller's flags read with that release where the input names none.
    """
    if versions is not None and versions.lbc is not None:  # --lbc-version: where the input names no release
        cluster.lbc = with_release(cluster.lbc, versions.lbc)
    a = _Assessor(cluster, mutator_webhook, versions, auto_mode)
    services, refusals = _known_version_refusals(cluster, versions or Versions())
    findings = [a.assess(s) for s in services if a.takes(s)]
    tgs = gateway.target_groups(cluster.gateway_objects)
    findings += [a.assess_target_group(tg, s) for tg, s in zip(tgs, a.gateway_settings(tgs), strict=True)]
    findings += tgb.findings(cluster)  # target groups made outside the cluster: undecided, with a warning
    findings.sort(key=lambda f: (not f.at_risk, f.namespace, f.name))
    return Report(findings, [*errors, *cluster.errors, *refusals], sg_mode=a.sg_mode, datapath=assess(cluster.seen),
                  cni_warnings=families.cni_warnings(cluster), version_warnings=kube_proxy_warnings(cluster, (versions or Versions()).kube_proxy),
                  lbc_warnings=lbc_warnings(findings, lbc_said(cluster)),
                  lbc_problems=lbc_problems(findings, cluster.lbc.problems if cluster.lbc is not None else ()),
                  ip_family_warnings=families.family_warnings(findings, a.primary_doubt))  # fmt: skip


def _known_version_refusals(cluster: Cluster, v: Versions) -> tuple[list[KService], list[InputError]]:
    """The Services to judge, and the input errors for the manifests the API server of the known Kubernetes version
    (``--kubernetes-version``) refuses: a LoadBalancer with two protocols before 1.24 (``apivalidation``).  Services
    read from a cluster exist, whatever it refuses now; without a known version (the newest kubelet is only a lower
    bound of the control plane's) every Service is judged."""
    if v.kubernetes is None:
        return cluster.services, []
    kept: list[KService] = []
    errors: list[InputError] = []
    for s in cluster.services:
        why = None if s.existing else apivalidation.mixed_protocol_refusal(s.type, s.protocols(), v.kubernetes[:2])
        if why is None:
            kept.append(s)
        else:
            errors.append(InputError(why, s.file, s.line))
    return kept, errors


def check(objects: Iterable[KubeObject], *, mutator_webhook: bool | None = None, errors: Iterable[InputError] = (),
          versions: Versions | None = None, auto_mode: bool | None = None) -> Report:  # fmt: skip
    """``check_cluster`` on parsed objects."""
    return check_cluster(Cluster.from_objects(objects), mutator_webhook=mutator_webhook, errors=errors,
                         versions=versions, auto_mode=auto_mode)  # fmt: skip
