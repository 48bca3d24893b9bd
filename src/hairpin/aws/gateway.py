"""The AWS Load Balancer Controller's Gateway API path: which NLB target groups Gateways and L4 routes build.

Facts, from kubernetes-sigs/aws-load-balancer-controller (docs/guide/gateway/: gateway.md, l4gateway.md,
customization.md, targetgroupconfig.md, loadbalancerconfig.md; apis/gateway/v1 and v1beta1):

- a GatewayClass with ``spec.controllerName: gateway.k8s.aws/nlb`` is the controller's (Gateway API from
  v2.13.0; GA in v3.0.0); every Gateway of such a class gets an NLB.  TCPRoute, UDPRoute and TLSRoute
  (from v2.13.3) attach to its listeners (``parentRefs``, ``sectionName``: one listener, else every
  listener of the route's protocol) and send to Services (``backendRefs``); each (route, Service) gets a
  target group.  A TCP and a UDP listener on one port become one TCP_UDP listener; each route attached
  to it gets a TCP_UDP target group.  ``listenerConfigurations[].quicEnabled`` in a
  LoadBalancerConfiguration turns UDP into QUIC and TCP_UDP into TCP_QUIC.
- LoadBalancerConfiguration (``gateway.k8s.aws`` v1beta1 from v2.13.0, v1 the storage version from v3.5.0;
  both read here) is attached to a Gateway (``spec.infrastructure.parametersRef``, same namespace) or its
  GatewayClass (``spec.parametersRef`` with a namespace).  On a field set in both, the GatewayClass's wins
  unless its ``mergingMode`` is ``prefer-gateway``.  ``scheme`` defaults to internal; ``sourceRanges``;
  ``disableSecurityGroup`` (security groups are attached otherwise); ``loadBalancerAttributes``;
  ``defaultTargetGroupConfiguration`` names a TargetGroupConfiguration in its namespace.
- TargetGroupConfiguration: ``spec.targetReference`` (kind Service when unset) names the Service; its
  ``defaultConfiguration`` and the best-matching ``routeConfigurations[].targetGroupProps`` (route kind,
  namespace and name; else kind and namespace; else kind) merge field by field, the route's winning, and
  over the Gateway-level default TGC; ``targetGroupAttributes`` (a list of ``{key, value}``) merge by key.
  ``targetType`` defaults to instance (the controller's ``--default-target-type``).
- client IP preservation: always on for UDP, TCP_UDP, QUIC and TCP_QUIC target groups; else the
  ``preserve_client_ip.enabled`` attribute; else on for instance targets, off for ip targets (AWS's
  default; the controller's getPreserveClientIP, model_build_target_group_binding_network.go).

``target_groups(objects)`` returns one ``TargetGroup`` per (Gateway listener, route, backend Service) with the
settings (``hairpin.aws.controller.Settings``) and the fixes as patches of the objects that decide them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from hairpin.aws import controller as ctl
from hairpin.aws import gateway_attach, gateway_crd, ipfamily
from hairpin.aws.protocols import always_preserved
from hairpin.parsers.manifests import KubeObject

__all__ = ["KINDS", "NLB_CONTROLLER", "PatchFix", "TargetGroup", "target_groups"]

NLB_CONTROLLER = "gateway.k8s.aws/nlb"
GROUP = "gateway.k8s.aws"
ROUTE_PROTOCOL = {"TCPRoute": "TCP", "UDPRoute": "UDP", "TLSRoute": "TLS"}
#: the kinds read here; Namespace only for its labels (a listener's allowedRoutes selector: hairpin.aws.gateway_attach)
KINDS = frozenset(
    {"GatewayClass", "Gateway", "TargetGroupConfiguration", "LoadBalancerConfiguration", "Namespace", *ROUTE_PROTOCOL}
)
PRESERVE = "preserve_client_ip.enabled"


@dataclass(frozen=True)
class PatchFix:
    """A fix as a change to a Gateway API object: name, summary, cost, YAML, command."""

    name: str
    summary: str
    cost: str
    yaml: str | None
    command: str


@dataclass
class TargetGroup:
    """One NLB target group of a Gateway: where it comes from and what the controller builds."""

    namespace: str  # the route's
    name: str  # Kind/route/service:port
    service: tuple[str, str]  # the backend Service (namespace, name)
    port: int  # the backend port
    settings: ctl.Settings
    file: str | None
    line: int | None
    fixes: list[PatchFix] = field(default_factory=list)
    source_ranges: tuple[str, ...] = ()
    lbc: tuple[str, str] | None = None  # the LoadBalancerConfiguration that sets them
    gateway: tuple[str, str] = ("", "")  # the Gateway (namespace, name)
    #: the Gateway NLB's IP address type and where it is set (with the Service's spec.ipFamilies, hairpin.aws.ipfamily)
    lb_type: ipfamily.LbType | None = None


def _d(x: Any) -> dict[str, Any]:
    return x if isinstance(x, dict) else {}


def _l(x: Any) -> list[Any]:
    return x if isinstance(x, list) else []


def _meta(o: KubeObject) -> tuple[str, str]:
    m = _d(o.data.get("metadata"))
    return str(m.get("namespace") or "default"), str(m.get("name") or "")


def _attrs(props: Mapping[str, Any]) -> dict[str, str]:
    return {str(a.get("key")): str(a.get("value")) for a in _l(props.get("targetGroupAttributes")) if isinstance(a, dict)}


def _merge(low: Mapping[str, Any], high: Mapping[str, Any]) -> dict[str, Any]:
    """Field-level merge of TargetGroupProps, ``high`` winning; attributes merge by key."""
    out = {**low, **high}
    attrs = {**_attrs(low), **_attrs(high)}
    if attrs:
        out["targetGroupAttributes"] = [{"key": k, "value": v} for k, v in attrs.items()]
    return out


def _route_props(tgc: Mapping[str, Any], kind: str, ns: str, name: str) -> dict[str, Any]:
    best: tuple[int, dict[str, Any]] | None = None
    for rc in _l(tgc.get("routeConfigurations")):
        ident = _d(_d(rc).get("routeIdentifier"))
        if ident.get("kind") != kind:
            continue
        if ident.get("namespace") not in (None, "", ns) or ident.get("name") not in (None, "", name):
            continue
        score = (ident.get("namespace") == ns) + (ident.get("name") == name) * 2
        if best is None or score > best[0]:
            best = (score, _d(_d(rc).get("targetGroupProps")))
    return best[1] if best else {}


class _Index:
    def __init__(self, objects: Iterable[KubeObject]) -> None:
        self.by: dict[tuple[str, str, str], KubeObject] = {}
        self.routes: list[KubeObject] = []
        self.gateways: list[KubeObject] = []
        for o in objects:
            if o.kind not in KINDS:
                continue
            ns, name = _meta(o)
            if o.kind in ("GatewayClass", "Namespace"):
                ns = ""
            self.by[(o.kind, ns, name)] = o
            if o.kind in ROUTE_PROTOCOL:
                self.routes.append(o)
            elif o.kind == "Gateway":
                self.gateways.append(o)

    def get(self, kind: str, ns: str, name: str) -> KubeObject | None:
        return self.by.get((kind, ns, name))

    def service_tgc(self, ns: str, name: str) -> KubeObject | None:
        for (kind, tns, _), o in sorted(self.by.items()):
            if kind != "TargetGroupConfiguration" or tns != ns:
                continue
            ref = _d(_d(o.data.get("spec")).get("targetReference"))
            if ref.get("name") == name and ref.get("kind") in (None, "", "Service"):
                return o
        return None


def _lb_config(ix: _Index, gw: KubeObject, cls: KubeObject | None,
               steps: list[str]) -> tuple[dict[str, Any], str | None, str | None]:  # fmt: skip
    """The merged LoadBalancerConfiguration spec of a Gateway, the namespace/name of the one to patch, and that of
    the one whose ``ipAddressType`` wins (None when neither sets it)."""
    gns, _ = _meta(gw)
    ref = _d(_d(_d(gw.data.get("spec")).get("infrastructure")).get("parametersRef"))
    gw_cfg = ix.get("LoadBalancerConfiguration", gns, str(ref.get("name"))) if ref.get("kind") == "LoadBalancerConfiguration" else None
    cref = _d(_d(cls.data.get("spec")).get("parametersRef")) if cls is not None else {}
    cls_cfg = (ix.get("LoadBalancerConfiguration", str(cref.get("namespace") or "default"), str(cref.get("name")))
               if cref.get("kind") == "LoadBalancerConfiguration" else None)  # fmt: skip
    gw_spec = _d(gw_cfg.data.get("spec")) if gw_cfg else {}
    cls_spec = _d(cls_cfg.data.get("spec")) if cls_cfg else {}
    prefer_gw = cls_spec.get("mergingMode") == "prefer-gateway"
    merged = {**cls_spec, **gw_spec} if prefer_gw else {**gw_spec, **cls_spec}
    for who, cfg in (("Gateway", gw_cfg), ("GatewayClass", cls_cfg)):
        if cfg is not None:
            mode = " (mergingMode prefer-gateway)" if prefer_gw else ""
            steps.append(f"the {who}'s LoadBalancerConfiguration {'/'.join(_meta(cfg))} applies{mode}")
    target = gw_cfg or cls_cfg
    order = (cls_cfg, gw_cfg) if prefer_gw else (gw_cfg, cls_cfg)  # the later one wins
    ipt = next((c for c in reversed(order) if c is not None and "ipAddressType" in _d(c.data.get("spec"))), None)
    return (merged, ("/".join(_meta(target)) if target is not None else None),
            "/".join(_meta(ipt)) if ipt is not None else None)  # fmt: skip


def target_groups(objects: Iterable[KubeObject]) -> list[TargetGroup]:
    """Every target group the controller builds for Gateways of an NLB GatewayClass."""
    ix = _Index(objects)
    out: list[TargetGroup] = []
    for gw in ix.gateways:
        gns, gname = _meta(gw)
        gspec = _d(gw.data.get("spec"))
        cls = ix.get("GatewayClass", "", str(gspec.get("gatewayClassName")))
        if cls is None or _d(cls.data.get("spec")).get("controllerName") != NLB_CONTROLLER:
            continue
        head = [f"Gateway {gns}/{gname} of GatewayClass {_meta(cls)[1]} (controllerName {NLB_CONTROLLER}): the AWS Load "
                "Balancer Controller's Gateway API path (v2.13.0 and later) builds an NLB"]  # fmt: skip
        cfg, cfg_name, ipt_name = _lb_config(ix, gw, cls, head)
        lb_type = ipfamily.gateway_lb_type(cfg.get("ipAddressType"), ipt_name or cfg_name)
        scheme = str(cfg.get("scheme") or "internal")
        head.append(f"scheme {scheme} ({'LoadBalancerConfiguration scheme' if cfg.get('scheme') else 'the default, internal'})")
        refused = gateway_crd.lb_config_refusal(cfg)  # the config is never stored: the Gateway is not reconciled
        if refused is not None:
            head[-1] = (f"LoadBalancerConfiguration {cfg_name}: {refused} (the CRD's enum): the API server refuses it, "
                        "and the controller does not reconcile a Gateway whose LoadBalancerConfiguration it cannot get "
                        "(gatewayutils.ResolveLoadBalancerConfig): no NLB is built")  # fmt: skip
        sg = cfg.get("disableSecurityGroup") is not True
        ranges = tuple(str(r) for r in _l(cfg.get("sourceRanges")))
        lb_attrs = {str(a.get("key")): str(a.get("value")) for a in _l(cfg.get("loadBalancerAttributes")) if isinstance(a, dict)}
        quic = {str(_d(c).get("protocolPort")) for c in _l(cfg.get("listenerConfigurations")) if _d(c).get("quicEnabled") is True}
        dref = _d(cfg.get("defaultTargetGroupConfiguration"))
        cfg_ns = cfg_name.split("/")[0] if cfg_name else gns
        default_tgc = ix.get("TargetGroupConfiguration", cfg_ns, str(dref.get("name"))) if dref else None
        listeners = [_d(x) for x in _l(gspec.get("listeners"))]
        ports: dict[int, set[str]] = {}
        for li in listeners:
            if isinstance(li.get("port"), int):
                ports.setdefault(li["port"], set()).add(str(li.get("protocol") or "").upper())
        for route in ix.routes:
            rns, _ = _meta(route)
            rspec = _d(route.data.get("spec"))
            for pref in _l(rspec.get("parentRefs")):
                pref = _d(pref)
                if pref.get("kind", "Gateway") != "Gateway" or pref.get("name") != gname:
                    continue
                if str(pref.get("namespace") or rns) != gns:
                    continue
                want = ROUTE_PROTOCOL[route.kind]
                chosen = [li for li in listeners if (pref.get("sectionName") and li.get("name") == pref.get("sectionName"))
                          or (not pref.get("sectionName") and str(li.get("protocol") or "").upper() == want)]  # fmt: skip
                ns_obj = ix.get("Namespace", "", rns)
                labels = {str(k): str(v) for k, v in _d(_d(ns_obj.data.get("metadata")).get("labels")).items()} \
                    if ns_obj is not None else None  # fmt: skip
                verdicts = [(li, *gateway_attach.admits(li, (gns, gname), route.kind, _meta(route), labels))
                            for li in chosen]  # fmt: skip
                if verdicts and all(ok is False for _, ok, _ in verdicts):
                    out.extend(_not_attached(route, (gns, gname), head, [why for _, _, why in verdicts]))
                    continue
                for li, ok, why in verdicts:
                    port = li.get("port")
                    if ok is False or not isinstance(port, int):
                        continue
                    proto = str(li.get("protocol") or want).upper()
                    if {"TCP", "UDP"} <= ports.get(port, set()):
                        proto = "TCP_UDP"
                    if f"{proto}:{port}" in quic:
                        proto = {"UDP": "QUIC", "TCP_UDP": "TCP_QUIC"}.get(proto, proto)
                    for svc, bport in _backends(route):
                        tg = _target_group(ix, route, svc, bport, proto, port, scheme, sg, ranges, lb_attrs,
                                           default_tgc, cfg_name, list(head), (gns, gname), lb_type)  # fmt: skip
                        if ok is None:  # the namespace's labels decide, and the input does not have them
                            tg.settings = replace(tg.settings, warnings=(*tg.settings.warnings, why))
                        if refused is not None:
                            tg.settings = ctl.not_built("Cluster", head, (
                                f"LoadBalancerConfiguration {cfg_name}: {refused} (the API server refuses it): the "
                                "Gateway gets no NLB",))  # fmt: skip
                            tg.fixes = []
                        out.append(tg)
    return out


def _backends(route: KubeObject) -> list[tuple[tuple[str, str], Any]]:
    """The route's Service backends: ((namespace, name), port)."""
    rns, _ = _meta(route)
    out = []
    for rule in _l(_d(route.data.get("spec")).get("rules")):
        for b in _l(_d(rule).get("backendRefs")):
            b = _d(b)
            if b.get("kind", "Service") == "Service" and b.get("name"):
                out.append(((str(b.get("namespace") or rns), str(b["name"])), b.get("port")))
    return out


def _not_attached(route: KubeObject, gw: tuple[str, str], head: list[str], whys: list[str]) -> list[TargetGroup]:
    """A route that names an NLB Gateway none of whose listeners admit it: no target group is built
    (``hairpin.aws.gateway_attach``); reported as not built, with why, so that it is not taken for at risk."""
    rns, rname = _meta(route)
    problem = (f"{route.kind} {rns}/{rname} is not attached: {'; '.join(whys)}; the AWS Load "
               "Balancer Controller builds no target group for it (listener_attachment_helper.go); to attach it, set "
               "the listener's allowedRoutes (namespaces.from: All, or a selector matching the route's namespace)")  # fmt: skip
    steps = (*head, f"{route.kind} {rns}/{rname}: not attached ({whys[0]}): no target group")
    s = ctl.not_built("Cluster", steps, (problem,))
    return [TargetGroup(rns, f"{route.kind}/{rname}/{svc[1]}:{bport}", svc, bport if isinstance(bport, int) else 0, s,
                        route.file, route.line, gateway=gw) for svc, bport in _backends(route)]  # fmt: skip


def _target_group(ix: _Index, route: KubeObject, svc: tuple[str, str], bport: Any, proto: str, lport: int, scheme: str,
                  sg: bool, ranges: tuple[str, ...], lb_attrs: Mapping[str, str], default_tgc: KubeObject | None,
                  cfg_name: str | None, steps: list[str], gw: tuple[str, str],
                  lb_type: ipfamily.LbType) -> TargetGroup:  # fmt: skip
    rns, rname = _meta(route)
    problems: list[str] = []
    steps.append(f"{route.kind} {rns}/{rname}: listener {proto}:{lport} -> Service {svc[0]}/{svc[1]}")
    tgc = ix.service_tgc(*svc)
    base = _d(_d(default_tgc.data.get("spec")).get("defaultConfiguration")) if default_tgc else {}
    own = _d(_d(tgc.data.get("spec")).get("defaultConfiguration")) if tgc else {}
    by_route = _route_props(_d(tgc.data.get("spec")), route.kind, rns, rname) if tgc else {}
    props = _merge(_merge(base, own), by_route)
    src = f"TargetGroupConfiguration {'/'.join(_meta(tgc))}" if tgc else ("the default TargetGroupConfiguration" if default_tgc else "")
    tt = props.get("targetType")
    target_type = str(tt) if tt in ("ip", "instance") else "instance"
    steps.append(f"target type {target_type} ({src} targetType)" if tt in ("ip", "instance") else
                 "target type instance (the controller's --default-target-type, instance unless changed)")  # fmt: skip
    attrs = _attrs(props)
    forced = always_preserved([proto])
    value = attrs.get(PRESERVE)
    if forced is not None:
        preserve = True
        if value == "false":
            problems.append(f"{PRESERVE}=false: {forced}")
        steps.append(f"client IP preservation on ({forced})")
    elif value in ("true", "false"):
        preserve = value == "true"
        steps.append(f"client IP preservation {'on' if preserve else 'off'} ({src} targetGroupAttributes {PRESERVE}={value})")
    else:
        preserve = target_type == "instance"
        steps.append(f"client IP preservation {'on' if preserve else 'off'} (the default for {target_type} targets)")
    preserve_step = steps[-1]  # "client IP preservation on|off (why)": the target group's reason
    xz = attrs.get("load_balancing.cross_zone.enabled") or lb_attrs.get("load_balancing.cross_zone.enabled")
    cross = xz == "true"
    steps.append(f"cross-zone {'on' if cross else 'off'}" + ("" if xz else " (the NLB default)"))
    steps.append("security groups on the NLB" + ("" if sg else ": none (disableSecurityGroup)"))
    one = ctl.TargetGroup(lport, proto, preserve, preserve_step)
    warnings: tuple[str, ...] = ()
    if "ipAddressType" in props:  # TargetGroupProps.IPAddressType: merged (tg_config_constructor.go), never read
        warnings = (f"{src} ipAddressType {props['ipAddressType']!r} is not read: the AWS Load Balancer Controller "
                    "(v2.13.0 to v3.5.0) takes the target group's IP address type from the Service's spec.ipFamilies "
                    "and the Gateway's LoadBalancerConfiguration",)  # fmt: skip
    labels: tuple[tuple[str, str], ...] = ()
    selector = _d(props.get("nodeSelector"))
    if target_type == "instance" and selector:
        # TargetGroupProps.nodeSelector: the instance targets' TargetGroupBinding registers only the nodes it selects
        # (model_build_target_group.go buildTargetGroupBindingNodeSelector)
        labels = tuple(sorted((str(k), str(v)) for k, v in _d(selector.get("matchLabels")).items()))
        if labels:
            steps.insert(len(steps) - 2, f"instance targets limited to nodes labelled "
                         f"{','.join(f'{k}={v}' for k, v in labels)} ({src} nodeSelector)")  # fmt: skip
        if selector.get("matchExpressions"):
            warnings = (*warnings, f"{src} nodeSelector.matchExpressions is not evaluated: the verdict counts every node "
                        "its matchLabels select, more than the controller registers if an expression excludes some")  # fmt: skip
    s = ctl.Settings(ctl.LBC, "nlb", scheme, target_type, preserve, cross, "Cluster", labels,
                     attrs.get("proxy_protocol_v2.enabled") == "true", tuple(steps), tuple(problems), (one,),
                     security_groups=sg, warnings=warnings)  # fmt: skip
    where = tgc if tgc is not None else route
    tg = TargetGroup(rns, f"{route.kind}/{rname}/{svc[1]}:{bport}", svc, bport if isinstance(bport, int) else 0, s,
                     where.file, where.line, source_ranges=ranges, gateway=gw, lb_type=lb_type)  # fmt: skip
    if cfg_name:
        ns, _, name = cfg_name.partition("/")
        tg.lbc = (ns, name)
    tg.fixes = _fixes(tgc, svc, props, by_route, target_type, forced is not None)
    return tg


def _tgc_change(tgc: KubeObject | None, svc: tuple[str, str], change: dict[str, Any]) -> tuple[str, str]:
    """(YAML, command) that puts ``change`` into the Service's TargetGroupConfiguration defaultConfiguration."""
    if tgc is not None:
        ns, name = _meta(tgc)
        body = json.dumps({"spec": {"defaultConfiguration": change}})
        return ("spec:\n  defaultConfiguration:\n" + "\n".join(f"    {k}: {json.dumps(v)}" for k, v in change.items()),
                f"kubectl patch targetgroupconfiguration -n {ns} {name} --type merge -p '{body}'")  # fmt: skip
    doc = {"apiVersion": f"{GROUP}/v1", "kind": "TargetGroupConfiguration",
           "metadata": {"name": f"{svc[1]}-hairpin", "namespace": svc[0]},
           "spec": {"targetReference": {"name": svc[1]}, "defaultConfiguration": change}}  # fmt: skip
    text = json.dumps(doc)
    return text, f"kubectl apply -f - <<'EOF'\n{text}\nEOF"


def _fixes(tgc: KubeObject | None, svc: tuple[str, str], props: Mapping[str, Any], by_route: Mapping[str, Any],
           target_type: str, forced: bool) -> list[PatchFix]:  # fmt: skip
    lose = "the backend sees the NLB's private address instead of the caller's, for every client"
    out: list[PatchFix] = []
    if forced:
        return out  # UDP/TCP_UDP/QUIC: preservation stays on, ip targets keep it too
    if PRESERVE not in _attrs(by_route):
        attrs = {**_attrs(props), PRESERVE: "false"}
        y, c = _tgc_change(tgc, svc, {"targetGroupAttributes": [{"key": k, "value": v} for k, v in attrs.items()]})
        out.append(PatchFix("no-preserve-client-ip", "turn client IP preservation off in the Service's "
                            "TargetGroupConfiguration", lose, y, c))  # fmt: skip
    if target_type == "instance" and "targetType" not in by_route and _attrs(props).get(PRESERVE) != "true":
        y, c = _tgc_change(tgc, svc, {"targetType": "ip"})
        out.append(PatchFix("ip-targets", "register pods (ip targets) instead of nodes; preservation is off by default "
                            "for ip targets with TCP", f"the target group is replaced; {lose}; pods need VPC "
                            "addresses (AWS VPC CNI)", y, c))  # fmt: skip
    return out
