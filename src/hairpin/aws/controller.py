"""How a Service of type LoadBalancer becomes load balancer settings, per controller, and why.

``resolve(annotations, ...)`` returns ``Settings``: which controller provisions the Service, NLB or
Classic ELB, scheme, target type, client IP preservation, cross-zone, and one sentence per answer saying
which annotation (or which default) decided it.  The target groups, the listeners, client IP preservation and
cross-zone are read by ``hairpin.aws.nlb_target_groups`` (its public names are re-exported here).  Facts, from the
controllers' sources:

Which controller (kubernetes-sigs/aws-load-balancer-controller ``pkg/service/service_utils.go``
IsServiceSupported; kubernetes/cloud-provider-aws ``pkg/providers/v1/aws_loadbalancer.go`` isLBExternal):
- ``spec.loadBalancerClass: service.k8s.aws/nlb`` (the class in the LBC's ``--load-balancer-class``,
  ``hairpin.aws.lbc_flags``) -> the AWS Load Balancer Controller (LBC).  Any other class -> neither:
  the in-tree provider ignores Services with a class (Kubernetes docs, "Service", load balancer class)
  and the LBC only takes its own class.
- no class: ``aws-load-balancer-type: nlb-ip`` -> LBC; ``external`` with ``aws-load-balancer-nlb-target-type``
  ``ip`` or ``instance`` -> LBC; ``external``/``nlb-ip`` are skipped by the in-tree provider
  (ImplementedElsewhere), so ``external`` without a valid target type is provisioned by no one.
- otherwise the in-tree provider: ``nlb`` -> NLB, anything else -> Classic ELB.
- Service types (LBC ``pkg/service/service_utils.go`` IsServiceSupported; docs/guide/service/nlb.md
  lists NodePort Services among those it reconciles): the LBC takes a Service of *any* type that has its
  class or the annotations above, unless its feature gate ``ServiceTypeLoadBalancerOnly`` is on
  (``pkg/config/feature_gates.go``, default off; ``--feature-gates=ServiceTypeLoadBalancerOnly=true``).
  ``loadBalancerClass`` itself is refused by the API server on any type but LoadBalancer (kubernetes
  ``pkg/apis/core/validation/validation.go``, "may only be used when `type` is 'LoadBalancer'"), so a NodePort or ClusterIP Service reaches the LBC through the annotations only.
  The in-tree provider and the mutator webhook take type LoadBalancer only.  Instance targets need a
  node port: on a ClusterIP Service the LBC refuses them ("unsupported service type",
  ``model_build_target_group.go`` buildTargetType); ip targets work on any type with endpoints.
- The LBC's service mutator webhook (``mservice.elbv2.k8s.aws``, ``webhooks/core/service_mutator.go``)
  sets ``loadBalancerClass: service.k8s.aws/nlb`` (its ``--load-balancer-class``) on every LoadBalancer
  Service *created* without a class, so with the webhook installed a classless manifest ends up with the LBC.

Settings (LBC ``pkg/service/model_build_load_balancer.go``, ``model_build_target_group.go``; in-tree
``pkg/providers/v1/aws.go``):
- scheme, LBC: ``aws-load-balancer-scheme``, else the deprecated ``aws-load-balancer-internal`` (a bool),
  else internal (since v2.2.0; an existing NLB keeps its scheme; the LBC's ``--default-load-balancer-scheme``
  changes that default, v2.11.0); a scheme other than internal or internet-facing, or an internal value that
  is no boolean (strconv.ParseBool), fails the model build: no load balancer.  In-tree: internal when
  ``aws-load-balancer-internal`` is set to anything but ``false`` (e.g. ``"true"``, ``"0.0.0.0/0"``),
  else internet-facing (an empty value too).
- target type, LBC: ``nlb-ip`` or ``aws-load-balancer-nlb-target-type: ip`` -> ip, else the
  controller's ``--default-target-type`` (instance by default); with its feature gate EnableIPTargetType
  off, target type ip (from the annotation or that default) fails the Service: no load balancer.  In-tree
  NLB: always instance.
- client IP preservation: ``aws-load-balancer-target-group-attributes: preserve_client_ip.enabled=...``,
  else the target group default: on for instance targets; for ip targets off with TCP/TLS, on with
  UDP/TCP_UDP ("Target groups for your Network Load Balancers", Client IP preservation).  Classic ELB:
  not applicable (it proxies).
- cross-zone: target group attribute ``load_balancing.cross_zone.enabled`` overrides the load
  balancer's; LBC: ``aws-load-balancer-cross-zone-load-balancing-enabled`` (wins over)
  ``aws-load-balancer-attributes: load_balancing.cross_zone.enabled=...``; default off for NLBs.
- ``aws-load-balancer-target-node-labels: k=v,...`` restricts instance targets to matching nodes.
- the LBC's map annotations (target group attributes, load balancer attributes, target node labels,
  additional resource tags) are read as its parser reads them (``hairpin.aws.lbc_annotations``: a backslash
  escapes a comma from v2.14.1); a value it cannot parse fails the model build: no load balancer.
- listeners, LBC (``pkg/service/model_build_listener.go``): a TCP and a UDP Service port of one number
  share one TCP_UDP listener and target group only with ``aws-load-balancer-enable-tcp-udp-listener:
  "true"`` or the feature gate EnableTCPUDPListener (v2.13.0, default off); otherwise the first of them
  gets the listener and the other none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from hairpin.aws import lbc_attributes, node_labels
from hairpin.aws.lbc_attributes import ADDITIONAL_TAGS as ADDITIONAL_TAGS
from hairpin.aws.lbc_attributes import LB_ATTRIBUTES as LB_ATTRIBUTES
from hairpin.aws.lbc_attributes import TG_ATTRIBUTES as TG_ATTRIBUTES
from hairpin.aws.lbc_flags import DEFAULT_CLASS, LbcFlags, lbc_flags, parse_bool
from hairpin.aws.nlb_target_groups import ALWAYS_PRESERVED as ALWAYS_PRESERVED
from hairpin.aws.nlb_target_groups import CROSS_ZONE as CROSS_ZONE
from hairpin.aws.nlb_target_groups import TCP_UDP_LISTENER as TCP_UDP_LISTENER
from hairpin.aws.nlb_target_groups import TargetGroup as TargetGroup
from hairpin.aws.nlb_target_groups import client_ip_preserved, cross_zone, lbc_listeners
from hairpin.aws.nlb_target_groups import target_groups as target_groups

__all__ = [
    "ANNOTATION_PREFIX",
    "IN_TREE",
    "LBC",
    "LBC_CLASS",
    "LBC_WEBHOOK",
    "NONE",
    "OTHER",
    "LbcFlags",
    "Settings",
    "TargetGroup",
    "annotation",
    "lbc_flags",
    "lbc_takes",
    "not_built",
    "parse_map",
    "resolve",
]

ANNOTATION_PREFIX = "service.beta.kubernetes.io/"
LBC_CLASS = DEFAULT_CLASS
LBC_WEBHOOK = "mservice.elbv2.k8s.aws"
IN_TREE = "in-tree"
LBC = "aws-load-balancer-controller"
NONE = "none"
OTHER = "other"


def annotation(suffix: str) -> str:
    """The full annotation key of ``aws-load-balancer-...``."""
    return ANNOTATION_PREFIX + suffix


TYPE = annotation("aws-load-balancer-type")
TARGET_TYPE = annotation("aws-load-balancer-nlb-target-type")
SCHEME = annotation("aws-load-balancer-scheme")
INTERNAL = annotation("aws-load-balancer-internal")
NODE_LABELS = annotation("aws-load-balancer-target-node-labels")
PROXY_PROTOCOL = annotation("aws-load-balancer-proxy-protocol")
#: the first release that reads spec.loadBalancerClass (and has --load-balancer-class)
CLASS_FROM = (2, 4, 0)


@dataclass(frozen=True)
class Settings:
    """What the controller would provision for one Service, and how each answer was reached."""

    controller: str  # in-tree | aws-load-balancer-controller | none | other
    load_balancer: str  # nlb | clb | none
    scheme: str  # internal | internet-facing | unknown
    target_type: str | None  # instance | ip (None for a Classic ELB or when nothing is provisioned)
    preserve_client_ip: bool | None
    cross_zone: bool
    external_traffic_policy: str
    target_node_labels: tuple[tuple[str, str], ...] = ()
    proxy_protocol_v2: bool = False
    steps: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    #: NLB only: one per Service port (``ports=`` given to ``resolve``), in the Service's order
    target_groups: tuple[TargetGroup, ...] = ()
    #: security groups on the NLB (hairpin.aws.security_groups): the LBC from v2.6.0, EKS Auto Mode always
    security_groups: bool = False
    #: the load balancer's IP address type (ipv4 | dualstack) and its target groups' (ipv4 | ipv6), from
    #: spec.ipFamilies and aws-load-balancer-ip-address-type (hairpin.aws.ipfamily); None: none, or not decided
    ip_address_type: str | None = None
    tg_ip_address_type: str | None = None
    #: why no connection through the load balancer reaches a target (the verdict then is this, not the hairpin)
    broken: str | None = None
    #: what hairpin could not decide about these settings (shown as the finding's warnings)
    warnings: tuple[str, ...] = ()
    #: in-tree NLBs: the cloud provider's NLBSecurityGroupMode (Managed | unset | invalid | unknown) and where it
    #: was read (hairpin.aws.cloud_config); None for other load balancers
    sg_mode: str | None = None
    sg_mode_from: str | None = None
    #: aws-load-balancer-security-groups is on the Service but the controller ignores it (hairpin.aws.cloud_config)
    own_groups_ignored: bool = False
    #: in-tree: label keys a target node has with any value (``key`` or ``key=`` in the annotation)
    target_node_keys: tuple[str, ...] = ()

    @property
    def is_nlb(self) -> bool:
        return self.load_balancer == "nlb"


def parse_map(value: str) -> dict[str, str]:
    """``k1=v1,k2=v2`` (the controllers' stringMap annotation format) as a dict; bare keys map to ''."""
    return node_labels.string_map(value)


#: the aws-load-balancer-type values a controller acts on
_TYPES = ("nlb", "nlb-ip", "external")


def _bool(value: str) -> bool | None:
    return parse_bool(value)


def resolve(
    annotations: Mapping[str, str],
    *,
    load_balancer_class: str | None = None,
    service_type: str = "LoadBalancer",
    protocols: Sequence[str] = ("TCP",),
    external_traffic_policy: str = "Cluster",
    mutator_webhook: bool = False,
    in_tree_tg_attributes: bool = False,
    lbc_load_balancer_only: bool = False,
    ports: Sequence[tuple[int | None, str]] = (),
    lbc: LbcFlags | None = None,
) -> Settings:
    """The settings the responsible controller derives from the Service's spec and annotations.

    ``mutator_webhook``: the LBC's service mutator webhook will see this Service's creation (a manifest
    not yet applied, in a cluster where the webhook is installed).  ``in_tree_tg_attributes``: the
    in-tree provider honours ``aws-load-balancer-target-group-attributes`` (``hairpin.aws.cloud_provider``; v1.34.0,
    commit 73428cd2 "support target group attrib annotation on NLB"; older providers ignore it).
    ``lbc_load_balancer_only``: the LBC runs with the feature gate ServiceTypeLoadBalancerOnly on.
    ``ports``: (port, protocol) of each Service port, for ``Settings.target_groups``.  ``lbc``: the
    LBC's command line (class, default target type and scheme, feature gates; None: its defaults).
    """
    steps: list[str] = []
    problems: list[str] = []
    a = {str(k): str(v) for k, v in annotations.items()}
    etp = external_traffic_policy or "Cluster"
    flags = lbc or LbcFlags()
    lbc_load_balancer_only = lbc_load_balancer_only or flags.load_balancer_only
    if service_type != "LoadBalancer":
        early = _other_type(a, load_balancer_class, service_type, etp, lbc_load_balancer_only)
        if early is not None:
            return early
        mutator_webhook = False  # the webhook mutates type LoadBalancer only (service_mutator.go)
        steps.append(
            f"type {service_type}: the AWS Load Balancer Controller reconciles it (it takes any type unless its "
            "feature gate ServiceTypeLoadBalancerOnly is on; the in-tree provider takes only type LoadBalancer)"
        )
    lb_type = a.get(TYPE, "")
    tt_ann = a.get(TARGET_TYPE)
    near_miss: list[str] = []  # an aws-load-balancer-type that differs from a known value in case or spaces only
    controller: str
    target_type: str
    own_class = flags.load_balancer_class
    if load_balancer_class and load_balancer_class == own_class and flags.version is not None and flags.version < CLASS_FROM:
        # before v2.4.0 (kubernetes-sigs/aws-load-balancer-controller PR #2489) the controller and its webhook read
        # no spec.loadBalancerClass: it takes a Service by its annotations only
        steps.append(f"spec.loadBalancerClass {own_class} not honoured: the AWS Load Balancer Controller's "
                     f"{flags.release_is}, and it reads the class from v2.4.0 ({flags.source})")  # fmt: skip
        if not (lb_type == "nlb-ip" or (lb_type == "external" and tt_ann in ("ip", "instance"))):
            steps.append("the in-tree provider ignores a Service with a class, and the AWS Load Balancer Controller "
                         f"takes none without {TYPE} nlb-ip or external: no load balancer is provisioned")  # fmt: skip
            return not_built(etp, steps, (f"spec.loadBalancerClass {own_class} is not read by the AWS Load Balancer "
                                          "Controller v{}.{}.{} (v2.4.0 and later read it): no controller provisions "
                                          "the Service".format(*flags.version),))  # fmt: skip
        load_balancer_class, mutator_webhook = None, False  # the annotations decide, as below
    if load_balancer_class:
        if load_balancer_class == own_class:
            controller = LBC
            steps.append(f"spec.loadBalancerClass {own_class}: the AWS Load Balancer Controller"
                         + (f" (its --load-balancer-class, {flags.source})" if own_class != LBC_CLASS else ""))
        else:
            claims = (f"it claims class {own_class}: --load-balancer-class in {flags.source}"
                      if own_class != LBC_CLASS else f"class {LBC_CLASS}")  # fmt: skip
            steps.append(
                f"spec.loadBalancerClass {load_balancer_class}: neither the in-tree provider (it ignores Services "
                f"with a class) nor the AWS Load Balancer Controller ({claims}) provisions it"
            )
            return Settings(OTHER, "none", "unknown", None, None, False, etp, steps=tuple(steps))
    elif mutator_webhook:
        controller = LBC
        steps.append(
            f"no loadBalancerClass, but the AWS Load Balancer Controller's service mutator webhook ({LBC_WEBHOOK}) "
            f"sets {own_class} when the Service is created: the AWS Load Balancer Controller"
        )
    elif lb_type == "nlb-ip":
        controller = LBC
        steps.append(f"{TYPE}: nlb-ip: the AWS Load Balancer Controller (the in-tree provider skips it)")
    elif lb_type == "external":
        if tt_ann in ("ip", "instance"):
            controller = LBC
            steps.append(f"{TYPE}: external with {TARGET_TYPE}: {tt_ann}: the AWS Load Balancer Controller")
        else:
            steps.append(
                f"{TYPE}: external: the in-tree provider skips it, and the AWS Load Balancer Controller needs "
                f"{TARGET_TYPE} ip or instance (got {tt_ann!r}): no load balancer is provisioned"
            )
            problems.append(f"{TARGET_TYPE} must be ip or instance with {TYPE}: external")
            return not_built(etp, steps, tuple(problems))
    else:
        controller = IN_TREE
        if lb_type == "nlb":
            steps.append(f"{TYPE}: nlb, no loadBalancerClass: the in-tree provider, Network Load Balancer")
        else:
            why = f"{TYPE}: {lb_type}" if lb_type else f"no {TYPE}"
            steps.append(f"{why}, no loadBalancerClass: the in-tree provider, Classic ELB")
            meant = lb_type.strip().lower()
            if meant in _TYPES:
                # both controllers compare the value exactly (cloud-provider-aws pkg/providers/v1 isNLB: == "nlb";
                # the LBC's service filter: "nlb-ip", "external"): a near miss is a Classic ELB, not what was meant
                what = "a Network Load Balancer" if meant == "nlb" else "the AWS Load Balancer Controller"
                near_miss.append(f"{TYPE}: {lb_type!r} is not {meant!r}: the controllers compare the value exactly, "
                                 f"so the in-tree provider builds a Classic ELB; if {what} was meant, write "
                                 f"{meant!r}")  # fmt: skip

    tg_attrs = parse_map(a.get(TG_ATTRIBUTES, ""))
    lb_attrs = parse_map(a.get(LB_ATTRIBUTES, ""))
    sel = node_labels.selector(a.get(NODE_LABELS, ""), in_tree=controller == IN_TREE, version=flags.version)
    labels = sel.labels
    # an LBC image newer than the newest release read: its defaults are taken to be that release's (lbc_flags)
    warnings: list[str] = list(flags.warnings) if controller == LBC else []
    if controller == LBC:
        off = flags.refuses_services(steps)
        if off:
            return not_built(etp, steps, (*flags.problems, off))
        problems.extend(flags.problems)  # hairpin check says them once (hairpin.diagnose.versions.lbc_problems)
        scheme = _lbc_scheme(a, steps, problems, flags)
        if scheme is None:  # the model build fails on the annotation: nothing is built
            return not_built(etp, steps, tuple(problems))
        target_type, refused = _lbc_target_type(lb_type, tt_ann, flags, steps, problems)
        if refused:
            return not_built(etp, steps, tuple(problems))
        if target_type == "instance" and sel.warning is not None:
            warnings.append(sel.warning)
        if target_type == "instance" and sel.refused is not None:  # buildTargetGroupBindingNodeSelector's error
            steps.append(f"{NODE_LABELS}: {sel.refused}: the model build fails and no load balancer is built")
            return not_built(etp, steps, (*problems, f"{NODE_LABELS}: {sel.refused} (the controller refuses the Service)"),
                             warnings)  # fmt: skip
        read = lbc_attributes.base_maps(a, flags.version, steps, problems, warnings)
        if read is None:
            return not_built(etp, steps, tuple(problems), warnings)
        tg_attrs, lb_attrs = read
        if target_type == "instance" and service_type not in ("LoadBalancer", "NodePort"):
            steps.append(
                f"type {service_type} has no node port: the AWS Load Balancer Controller refuses instance targets "
                "for it and builds no load balancer"
            )
            problems.append(f"instance targets need type NodePort or LoadBalancer, got {service_type}")
            return not_built(etp, steps, tuple(problems))
        cross = cross_zone(a, tg_attrs, lb_attrs, steps, problems, lbc=True)
        load_balancer = "nlb"
    else:
        internal = a.get(INTERNAL)
        # pkg/providers/v1/aws.go EnsureLoadBalancer: internal unless the value is "false" or empty (an absent
        # annotation reads as ""; a Helm chart that quotes an unset value renders "", and null reads as "" too)
        if internal not in (None, "", "false"):
            scheme = "internal"
            steps.append(
                f"scheme internal ({INTERNAL}: {internal!r}; the in-tree provider takes any value but 'false')"
            )
        else:
            scheme = "internet-facing"
            why = f"{INTERNAL}: {internal!r}" if internal is not None else f"no {INTERNAL}"
            steps.append(f"scheme internet-facing ({why}; the in-tree default)")
        if lb_type == "nlb":
            load_balancer = "nlb"
            target_type = "instance"
            steps.append("target type instance (the in-tree provider registers nodes)")
            # the provider reads cross-zone from its own annotation only (aws_loadbalancer.go); the target group
            # attributes annotation takes no cross-zone key (aws_validations.go refuses it, older releases ignore it)
            cross = cross_zone(a, {}, lb_attrs, steps, problems, lbc=False)
        else:
            load_balancer = "clb"
            cross = _bool(a.get(CROSS_ZONE, "")) is True
            steps.append("Classic ELB: a proxy, the backend sees the ELB's address, not the caller's")
            return Settings(controller, load_balancer, scheme, None, None, cross, etp, labels,
                            a.get(PROXY_PROTOCOL) == "*", tuple(steps), tuple(problems),
                            warnings=tuple(near_miss))  # fmt: skip
    if controller == IN_TREE and TG_ATTRIBUTES in a and not in_tree_tg_attributes:
        steps.append(
            f"{TG_ATTRIBUTES} ignored: this cloud provider release does not honour it (hairpin.aws.cloud_provider: "
            "v1.32.6, v1.33.3, v1.34.0 but not v1.34.1, v1.35.0 and later do)"
        )
        tg_attrs = {}
    merge = False
    if controller == LBC and ports:
        merge, kept = lbc_listeners(a, flags, ports, steps, problems)
        if len(kept) < len(ports):
            ports, protocols = kept, [proto for _, proto in kept]
    preserve = client_ip_preserved(target_type, tg_attrs, protocols, steps, problems)
    raw_preserve = tg_attrs.get("preserve_client_ip.enabled")
    if controller == LBC and raw_preserve is not None and _bool(raw_preserve) is None:
        # the LBC parses the attribute with strconv.ParseBool and fails the model build on an error
        # (pkg/service/model_build_target_group.go, validateAndParseAttributes: "failed to parse attribute")
        steps.append(f"{TG_ATTRIBUTES}: preserve_client_ip.enabled={raw_preserve!r} is not a boolean: the AWS Load "
                     "Balancer Controller's model build fails (\"failed to parse attribute\") and no load balancer is "
                     "built")  # fmt: skip
        said = f"{TG_ATTRIBUTES}: preserve_client_ip.enabled={raw_preserve!r} is not a boolean"  # by _preserve
        kept_problems = [p for p in problems if p != said] + [f"{said} (the controller refuses the Service)"]
        return not_built(etp, steps, tuple(kept_problems), warnings)
    per_port: dict[int, dict[str, str]] = {}
    if controller == LBC:
        got = lbc_attributes.port_maps(a, flags.version, tg_attrs, [n for n, _ in ports], steps, problems, warnings)
        if got is None:
            return not_built(etp, steps, tuple(problems), warnings)
        per_port = got
    tgs = target_groups(target_type, tg_attrs, ports, merge_tcp_udp=merge, per_port=per_port)
    if per_port and tgs:  # a port's own attributes: preservation is on when any target group keeps it
        preserve = any(tg.preserve_client_ip for tg in tgs)
    pp2 = (any(m.get("proxy_protocol_v2.enabled") == "true" for m in (tg_attrs, *per_port.values()))
           or a.get(PROXY_PROTOCOL) == "*")  # fmt: skip
    if labels or sel.keys:
        shown = [f"{k}={v}" for k, v in labels] + [f"{k} (any value)" for k in sel.keys]
        steps.append(f"instance targets limited to nodes labelled {','.join(shown)}")
    steps.append(f"externalTrafficPolicy {etp}")
    return Settings(controller, load_balancer, scheme, target_type, preserve, cross, etp, labels, pp2,
                    tuple(steps), tuple(problems), tgs, target_node_keys=sel.keys, warnings=tuple(warnings))  # fmt: skip


def _lbc_target_type(lb_type: str, tt_ann: str | None, flags: LbcFlags, steps: list[str],
                     problems: list[str]) -> tuple[str, bool]:  # fmt: skip
    """(target type, refused) as the LBC's buildTargetType (``pkg/service/model_build_target_group.go``, the
    same from v2.4.3 to v3.5.0): the annotation, else ``--default-target-type``; ip refused when the feature
    gate EnableIPTargetType is off, tested on that value only (``nlb-ip`` without it still gets ip)."""
    raw = tt_ann if tt_ann is not None else flags.default_target_type
    if raw == "ip" and not flags.gate("EnableIPTargetType", True):
        why = f"{TARGET_TYPE}: ip" if tt_ann is not None else f"no {TARGET_TYPE}, --default-target-type ip"
        steps.append(
            f"target type ip ({why}) refused: the AWS Load Balancer Controller runs with the feature gate "
            f"EnableIPTargetType=false ({flags.source}) and fails the Service (\"unsupported targetType: ip when "
            "EnableIPTargetType is false\"): no load balancer is built; one built before keeps its old settings"
        )
        problems.append("ip targets refused: feature gate EnableIPTargetType=false")
        return "ip", True
    if lb_type == "nlb-ip":
        steps.append(f"target type ip ({TYPE}: nlb-ip)")
        return "ip", False
    if tt_ann == "ip" or tt_ann == "instance":
        steps.append(f"target type {tt_ann} ({TARGET_TYPE})")
        return tt_ann, False
    if tt_ann is not None:
        problems.append(f"{TARGET_TYPE}: {tt_ann!r} is not ip or instance: the controller registers instances for "
                        "anything but 'ip' (buildTargetType)")  # fmt: skip
    if tt_ann is None and flags.default_target_type == "ip":
        steps.append(f"target type ip (no {TARGET_TYPE}: the controller's --default-target-type ip, {flags.source})")
        return "ip", False
    if flags.source and flags.default_target_type_set:
        steps.append(f"target type instance (the controller's --default-target-type instance, {flags.source})")
    elif flags.source and not flags.release_only:
        steps.append(f"target type instance (the controller's --default-target-type: not set in {flags.source}, "
                     "instance)")  # fmt: skip
    else:
        steps.append("target type instance (the controller's --default-target-type, instance unless changed)")
    return "instance", False


def _lbc_scheme(a: Mapping[str, str], steps: list[str], problems: list[str], flags: LbcFlags) -> str | None:
    """The scheme as the LBC's buildLoadBalancerScheme decides it (``pkg/service/model_build_load_balancer.go``:
    buildLoadBalancerSchemeViaAnnotation, then buildLoadBalancerSchemeLegacyAnnotation); None when it fails
    the model build ("unknown scheme: X", or ParseBoolAnnotation's error for a legacy value strconv.ParseBool
    refuses): the controller then builds nothing for the Service."""
    raw = a.get(SCHEME)
    if raw is not None:
        if raw in ("internal", "internet-facing"):
            steps.append(f"scheme {raw} ({SCHEME})")
            return raw
        steps.append(f"{SCHEME}: {raw!r} is neither internal nor internet-facing: the AWS Load Balancer Controller's "
                     "model build fails (\"unknown scheme\") and no load balancer is built")  # fmt: skip
        problems.append(f"{SCHEME}: unknown scheme {raw!r} (the controller refuses the Service)")
        return None
    legacy = a.get(INTERNAL)
    if legacy is not None:
        b = _bool(legacy)
        if b is None:
            steps.append(f"{INTERNAL}: {legacy!r} is not a boolean: the AWS Load Balancer Controller's model build "
                         "fails and no load balancer is built")  # fmt: skip
            problems.append(f"{INTERNAL}: {legacy!r} is not a boolean (the controller refuses the Service)")
            return None
        else:
            scheme = "internal" if b else "internet-facing"
            steps.append(f"scheme {scheme} (deprecated {INTERNAL}: {legacy!r})")
            return scheme
    if flags.default_scheme_set:
        # --default-load-balancer-scheme (pkg/config/controller_config.go, since v2.11.0): used when neither
        # annotation is set and no NLB exists yet (model_build_load_balancer.go buildLoadBalancerScheme)
        steps.append(f"scheme {flags.default_scheme} (the controller's --default-load-balancer-scheme, {flags.source}; "
                      "an NLB built before keeps its scheme)")  # fmt: skip
        return flags.default_scheme
    steps.append("scheme internal (the AWS Load Balancer Controller's default since v2.2.0)")
    return "internal"


def lbc_takes(
    annotations: Mapping[str, str],
    load_balancer_class: str | None,
    service_type: str,
    *,
    load_balancer_only: bool = False,
    flags: LbcFlags | None = None,
) -> bool:
    """Whether the AWS Load Balancer Controller reconciles this Service (IsServiceSupported,
    ``pkg/service/service_utils.go``): its class (``--load-balancer-class``), else ``nlb-ip``, else
    ``external`` with a target type; any Service type unless the feature gate ServiceTypeLoadBalancerOnly
    is on; nothing when the feature gate EnableServiceController is off (``main.go`` then starts no
    Service reconciler)."""
    f = flags or LbcFlags()
    if not f.gate("EnableServiceController", True):
        return False
    if (load_balancer_only or f.load_balancer_only) and service_type != "LoadBalancer":
        return False
    if load_balancer_class:
        return load_balancer_class == f.load_balancer_class
    lb_type = str(annotations.get(TYPE, ""))
    return lb_type == "nlb-ip" or (lb_type == "external" and annotations.get(TARGET_TYPE) in ("ip", "instance"))


def _other_type(a: Mapping[str, str], cls: str | None, service_type: str, etp: str,
                load_balancer_only: bool) -> Settings | None:  # fmt: skip
    """Settings for a Service that is not of type LoadBalancer, or None when the LBC reconciles it."""
    if cls:  # a manifest so is refused when read (hairpin.kube.apivalidation); a KService built in code may hold one
        return not_built(etp, [f"type {service_type} with spec.loadBalancerClass {cls}: the API server refuses "
                                "loadBalancerClass on any type but LoadBalancer"],
                          ("spec.loadBalancerClass: Forbidden: may only be used when `type` is 'LoadBalancer'",))  # fmt: skip
    if service_type == "ExternalName" or not lbc_takes(a, None, service_type):
        return not_built(etp, [f"type {service_type}: no load balancer"])
    if load_balancer_only:
        return not_built(etp, [f"type {service_type}: the AWS Load Balancer Controller would take it, but its feature "
                                "gate ServiceTypeLoadBalancerOnly is on: no load balancer"])  # fmt: skip
    return None


def not_built(etp: str, steps: Sequence[str], problems: tuple[str, ...] = (), warnings: Sequence[str] = ()) -> Settings:
    """No load balancer for the Service (the controller refuses it, or none takes it): controller ``none``."""
    return Settings(NONE, "none", "unknown", None, None, False, etp, steps=tuple(steps), problems=problems,
                    warnings=tuple(warnings))
