"""The workarounds ``hairpin check`` proposes for a Service at risk, cheapest first, with what each costs.

What it knows: which fixes each controller can apply (``hairpin.aws.controller``: the in-tree controller, the
AWS Load Balancer Controller and its feature gates, EKS Auto Mode), the annotations each fix sets (the target
group attributes kept as the Service has them but for ``preserve_client_ip.enabled``), and where a fix cannot
help (UDP and other protocols whose client IP is always preserved, ``hairpin.aws.protocols``).
"""

from __future__ import annotations

from hairpin.aws import automode, lbc_annotations, providers
from hairpin.aws import controller as ctl
from hairpin.aws.protocols import always_preserved
from hairpin.diagnose.finding import Fix
from hairpin.kube.cluster import KService

__all__ = ["IPMODE_FIX", "fixes_for"]


#: not available today: the request to the AWS Load Balancer Controller (hairpin.kube.ipmode)
IPMODE_FIX = Fix(
    "ipmode-vip",
    "have the controller publish the NLB's addresses in status.loadBalancer.ingress with ipMode VIP, so that "
    "kube-proxy handles in-cluster calls to them on the caller's node (requested in "
    "kubernetes-sigs/aws-load-balancer-controller #4803; no AWS controller does it as of 2026-12-01)",
    "not available in any release; residual risk: a caller that connects to an NLB address missing from the status "
    "still goes to the NLB; in-cluster calls then skip the NLB (its TLS listeners, security groups and source "
    "ranges do not apply to them)",
)


def _tg_value(svc: KService, preserve: str, controller: str, key: str = ctl.TG_ATTRIBUTES) -> str:
    raw = svc.annotations.get(key, "")
    if controller == ctl.IN_TREE:
        # the cloud provider refuses the whole annotation for any other key or value (hairpin.aws.providers):
        # keep only what it accepts
        attrs = {k: v for k, v in providers.in_tree_pairs(raw).items()
                 if k in providers.IN_TREE_TG_KEYS and v in ("true", "false")}  # fmt: skip
        attrs["preserve_client_ip.enabled"] = preserve
        return ",".join(f"{k}={v}" for k, v in attrs.items())
    try:  # the AWS Load Balancer Controller's reading (hairpin.aws.lbc_annotations), which it accepted
        attrs = lbc_annotations.string_map(raw)
    except ValueError:
        attrs = ctl.parse_map(raw)
    attrs["preserve_client_ip.enabled"] = preserve
    # every piece key=value (its parser refuses a bare key); a comma or backslash in a value escaped (v2.14.1)
    return ",".join(f"{k}={_escaped(v)}" for k, v in attrs.items())


def _escaped(value: str) -> str:
    """``value`` as the AWS Load Balancer Controller's map parser gives it back (v2.14.1 and later)."""
    return value.replace("\\", "\\\\").replace(",", "\\,")


def _tg_fix(svc: KService, preserve: str, controller: str) -> tuple[tuple[str, str], ...]:
    """The target group attribute annotations that set client IP preservation to ``preserve``: the Service's,
    and for the AWS Load Balancer Controller each per-port one that sets it (``hairpin.aws.lbc_attributes``, which
    wins over the Service's for its port)."""
    out = [(ctl.TG_ATTRIBUTES, _tg_value(svc, preserve, controller))]
    if controller == ctl.LBC:
        prefix = ctl.TG_ATTRIBUTES + "."
        for key in sorted(k for k in svc.annotations if k.startswith(prefix)):
            if "preserve_client_ip.enabled" in ctl.parse_map(svc.annotations[key]):
                out.append((key, _tg_value(svc, preserve, controller, key)))
    return tuple(out)


def fixes_for(svc: KService, s: ctl.Settings, in_tree_tg: bool, lbc: ctl.LbcFlags | None = None) -> list[Fix]:
    """The workarounds that work for this Service, cheapest first.  ``lbc``: the AWS Load Balancer
    Controller's flags; with EnableIPTargetType=false it refuses ip targets, with EnableServiceController=false
    it builds nothing (``hairpin.aws.lbc_flags``), so fixes that need either are left out."""
    out: list[Fix] = []
    lbc_ip = lbc is None or (lbc.gate("EnableIPTargetType", True) and lbc.gate("EnableServiceController", True))
    # no fix may turn preservation off for these (the load balancer's target groups when known: a port the
    # controller builds no listener for does not count)
    udp = always_preserved([tg.protocol for tg in s.target_groups] or svc.protocols()) is not None
    lose_ip = (
        "the backend sees the NLB's private address instead of the caller's, for every client (Proxy Protocol v2 "
        "can carry the client address if the backend reads it)"
    )
    if not udp and (s.controller == ctl.LBC or (s.controller == ctl.IN_TREE and in_tree_tg)):
        out.append(
            Fix(
                "no-preserve-client-ip",
                "turn client IP preservation off on the target group",
                lose_ip,
                _tg_fix(svc, "false", s.controller),
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
                (*_tg_fix(svc, "false", s.controller), (ctl.PROXY_PROTOCOL, "*")),
            )
        )
    tg_forces = ctl.parse_map(svc.annotations.get(ctl.TG_ATTRIBUTES, "")).get("preserve_client_ip.enabled") == "true"
    if (s.controller in (ctl.LBC, automode.AUTO_MODE) and s.target_type == "instance" and not udp and not tg_forces
            and (lbc_ip or s.controller == automode.AUTO_MODE)):  # fmt: skip
        out.append(
            Fix(
                "ip-targets",
                "register pods (ip targets) instead of nodes; preservation is off by default for ip targets with TCP",
                f"the target group is replaced (targets re-register); {lose_ip}; pods need VPC addresses (AWS VPC CNI)",
                ((ctl.TARGET_TYPE, "ip"),),
            )
        )
    # the first Service port whose target group preserves the client IP (the one at risk), else the first port
    # (a Gateway's target groups are its listeners' ports: not the Service's, so they are not named)
    own = {p.get("port") for p in svc.ports}
    port = next((tg.port for tg in s.target_groups if tg.preserve_client_ip and tg.port in own),
                svc.ports[0].get("port") if svc.ports else None)  # fmt: skip
    dns = f"{svc.name}.{svc.dns_namespace}.svc.cluster.local" + (f":{port}" if port else "")
    cost = "every in-cluster caller's configuration changes; the load balancer and the client IP stay as they are"
    if svc.internal_traffic_policy == "Local":
        # kube-proxy sends ClusterIP traffic of such a Service to endpoints on the caller's node only and drops it
        # when there is none (pkg/proxy/topology.go CategorizeEndpoints; pkg/proxy/iptables/proxier.go, "has no local
        # endpoints"; Kubernetes docs, "Service Internal Traffic Policy")
        cost += ("; with internalTrafficPolicy Local kube-proxy drops the ClusterIP connections of a caller on a node "
                 "without a ready endpoint of the Service: set it to Cluster, or keep callers next to the endpoints")  # fmt: skip
    out.append(
        Fix(
            "cluster-ip",
            f"point in-cluster callers at {dns} (the ClusterIP) instead of the load balancer's DNS name",
            cost,
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
    if s.controller == ctl.IN_TREE and not udp and lbc_ip:
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
