"""The AWS Load Balancer Controller's command line, as its Deployment's container args give it.

Only the flags that change whether a Service gets a load balancer, its scheme, its target type or client
IP preservation are read (kubernetes-sigs/aws-load-balancer-controller, release v3.5.0; each flag's first
release in brackets):

- ``--load-balancer-class`` (``pkg/config/service_config.go``, default ``service.k8s.aws/nlb``; v2.4.0):
  the class the controller claims (``pkg/service/service_utils.go`` IsServiceSupported compares a
  Service's ``spec.loadBalancerClass`` with it) and the class its mutator webhook sets
  (``webhooks/core/service_mutator.go``, given the same value in ``main.go``).
- ``--default-target-type`` (``pkg/config/controller_config.go``, ``instance`` or ``ip``, default
  ``instance``; v2.5.0): the target type of a Service without ``aws-load-balancer-nlb-target-type``
  (``pkg/service/model_build_target_group.go`` buildTargetType).  Any other value: the controller
  refuses to start (``validateDefaultTargetType``).
- ``--default-load-balancer-scheme`` (same file, ``internal`` or ``internet-facing``, default
  ``internal``; v2.11.0): the scheme when no annotation sets it and no NLB exists yet
  (``pkg/service/model_build_load_balancer.go`` buildLoadBalancerScheme).
- ``--feature-gates=K=V,...`` (``pkg/config/feature_gates.go``): each ``K=V`` is parsed with Go's
  strconv.ParseBool; a malformed pair or an unknown gate makes the flag, and so the controller's start,
  fail (``Set``).  Later occurrences add to earlier ones.  The gates read here:
  ``EnableServiceController`` (default on; off: ``main.go`` starts no Service reconciler at all),
  ``ServiceTypeLoadBalancerOnly`` (default off; on: Services of other types are not reconciled),
  ``EnableIPTargetType`` (default on; off: buildTargetType refuses target type ip),
  ``NLBSecurityGroup`` (default on; off: NLBs without security groups),
  ``EnableTCPUDPListener`` (default off, v2.13.0; on: a TCP and a UDP port of one number share a TCP_UDP
  listener unless the Service's ``aws-load-balancer-enable-tcp-udp-listener`` says otherwise,
  ``pkg/service/model_build_listener.go``).

Flags read and left out because they change none of the above: ``--default-tags``,
``--external-managed-tags``, ``--service-target-eni-security-group-tags``, ``--enable-backend-security-group``,
``--enable-manage-backend-security-group-rules``, ``--backend-security-group``,
``--disable-restricted-sg-rules`` (the rules on the targets' security groups, not the NLB's own),
``--enable-endpoint-slices`` (where ip targets are read from), ``--default-ssl-policy``; the gates the
Service path also reads (``pkg/service``, ``controllers/service``): EndpointsFailOpen, SubnetsClusterTagCheck,
NLBHealthCheckAdvancedConfig, LBCapacityReservation, EnhancedDefaultBehavior, EnableDefaultTagsLowPriority.

The release comes from the container's image tag (``.../aws-load-balancer-controller:v3.5.0``).  v3.5.0 is the
newest release read; ``pkg/config``, ``pkg/service``, ``webhooks/core`` and ``main.go`` are unchanged in the
snapshot after it (commit 225f4456, 2026-08-17).  A newer image is taken to behave as v3.5.0 and a warning says so
(``hairpin check`` says it once, ``hairpin.diagnose.versions.lbc_warnings``); a feature gate v3.5.0 does not know is then not reported as a refusal to start
(a later release may have added it) but as a warning.  An image whose tag names no release (``:latest``, a
digest only, ``:main``, ``:v2.x-custom``) is taken to be the release ``hairpin check --lbc-version`` gives
(``with_release``), else v3.5.0, with a warning saying so: the input has no other source of the release than the
tag.  Without the Deployment, ``--lbc-version`` gives the release and the flags are taken to be the defaults.  An image older than a flag or a gate it is given (``FLAG_FROM``,
``GATE_FROM``) does not know it and refuses to start: a problem says so, and the flag or gate is not applied.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from hairpin.text import shown

__all__ = ["DEFAULT_CLASS", "FLAG_FROM", "GATE_FROM", "KNOWN_GATES", "NEWEST_READ", "NEWEST_TAG", "LbcFlags", "image_tag", "image_version", "lbc_flags", "parse_bool",
           "parse_release", "untagged", "with_release"]

DEFAULT_CLASS = "service.k8s.aws/nlb"

#: the newest release of the controller whose source was read (major, minor), and its tag
NEWEST_READ = (3, 5)
NEWEST_TAG = "v3.5.0"

#: pkg/config/feature_gates.go at v3.5.0 (note: the gate the docs call "EnableTCPUDPListenerType" is
#: spelled "EnableTCPUDPListener" in the code, and only that spelling is accepted)
KNOWN_GATES = frozenset({
    "ListenerRulesTagging", "WeightedTargetGroups", "ServiceTypeLoadBalancerOnly", "EndpointsFailOpen",
    "EnableServiceController", "EnableIPTargetType", "EnableTCPUDPListener", "EnableRGTAPI",
    "SubnetsClusterTagCheck", "NLBHealthCheckAdvancedConfig", "NLBSecurityGroup", "ALBSingleSubnet",
    "LBCapacityReservation", "SubnetDiscoveryByReachability", "NLBGatewayAPI", "ALBGatewayAPI",
    "GlobalAcceleratorController", "EnhancedDefaultBehavior", "EnableDefaultTagsLowPriority",
    "ALBTargetControlAgent", "GatewayListenerSet", "EnableCertificateManagement", "IngressPlanAnnotation",
})  # fmt: skip

#: the first release of each gate of KNOWN_GATES and of each flag read here (``Feature = "..."`` in
#: pkg/config/feature_gates.go, the flag's name in pkg/config/*.go, at each release tag).  An older release does not
#: know them: its ``Set`` answers "unknown feature" (from v2.3.1, the first with --feature-gates) and its flag set,
#: built with pflag.ExitOnError (``main.go`` loadControllerConfig), an unknown flag; either way it does not start.
GATE_FROM: dict[str, tuple[int, int, int]] = {
    "ListenerRulesTagging": (2, 3, 1), "WeightedTargetGroups": (2, 3, 1), "ServiceTypeLoadBalancerOnly": (2, 4, 0),
    "EndpointsFailOpen": (2, 4, 1), "EnableServiceController": (2, 4, 3), "EnableIPTargetType": (2, 4, 3),
    "SubnetsClusterTagCheck": (2, 4, 3), "NLBHealthCheckAdvancedConfig": (2, 4, 6), "EnableRGTAPI": (2, 5, 2),
    "NLBSecurityGroup": (2, 6, 0), "ALBSingleSubnet": (2, 7, 0), "LBCapacityReservation": (2, 11, 0),
    "EnableTCPUDPListener": (2, 13, 0), "SubnetDiscoveryByReachability": (2, 13, 0), "NLBGatewayAPI": (2, 13, 0),
    "ALBGatewayAPI": (2, 13, 0), "EnhancedDefaultBehavior": (2, 14, 0), "EnableDefaultTagsLowPriority": (2, 14, 1),
    "ALBTargetControlAgent": (2, 16, 0), "GlobalAcceleratorController": (2, 17, 0), "GatewayListenerSet": (3, 2, 2),
    "EnableCertificateManagement": (3, 3, 0), "IngressPlanAnnotation": (3, 4, 0),
}  # fmt: skip
FLAG_FROM: dict[str, tuple[int, int, int]] = {
    "feature-gates": (2, 3, 1), "load-balancer-class": (2, 4, 0), "default-target-type": (2, 5, 0),
    "default-load-balancer-scheme": (2, 11, 0),
}  # fmt: skip

_TRUE = {"1", "t", "T", "TRUE", "true", "True"}  # Go strconv.ParseBool
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}
_STRING_FLAGS = ("load-balancer-class", "default-target-type", "default-load-balancer-scheme")


def image_tag(image: object) -> str:
    """The tag of an image reference (``v1.33.0-minimal-eksbuild.1``), "" without one (a digest only)."""
    if not isinstance(image, str):
        return ""
    return image.split("@", 1)[0].rsplit("/", 1)[-1].partition(":")[2]


def image_version(image: object) -> tuple[int, int, int] | None:
    """The release in an image reference's tag: ``public.ecr.aws/eks/aws-load-balancer-controller:v3.5.0`` ->
    (3, 5, 0); None without a tag of that form (a digest only, ``latest``)."""
    tag = image_tag(image)
    m = re.fullmatch(r"v?(\d{1,4})\.(\d{1,4})\.(\d{1,4})(?:[-+][\w.+-]*)?", tag)
    return (int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None


def _no_release(image: str) -> str | None:
    """Why an image reference names no release (``image_version`` None): its tag in a few words; None when the
    reference is empty (no image given, nothing to say)."""
    if not image:
        return None
    tag = image_tag(image)
    if tag:
        quoted = repr(tag[:80]) + ("..." if len(tag) > 80 else "")
        return f"tag {quoted}" if tag == "latest" else f"tag {quoted} is not a release"
    return untagged(image)


def untagged(image: str) -> str:
    """Why an image reference without a tag names no release: "a digest only" (``name@sha256:...``) or "no tag"."""
    return "a digest only" if "@" in image else "no tag"


def parse_bool(value: str) -> bool | None:
    """Go's strconv.ParseBool; None when it would fail."""
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    return None


@dataclass(frozen=True)
class LbcFlags:
    """What the AWS Load Balancer Controller's command line says (defaults when the flag is absent)."""

    feature_gates: tuple[tuple[str, bool], ...] = ()
    #: where the flags were read ("Deployment kube-system/aws-load-balancer-controller (f.yaml:3)"); "" = defaults
    source: str = ""
    load_balancer_class: str = DEFAULT_CLASS
    default_target_type: str = "instance"
    default_target_type_set: bool = False
    default_scheme: str = "internal"
    default_scheme_set: bool = False
    #: flags the controller would refuse at start, one sentence each
    problems: tuple[str, ...] = ()
    #: the release of the controller's image (its tag), when it says one
    version: tuple[int, int, int] | None = None
    #: what hairpin cannot vouch for (an image newer than the newest release read, or one whose tag names no
    #: release), one sentence each
    warnings: tuple[str, ...] = ()
    #: no Deployment in the input: only the release is known (``--lbc-version``), the flags are the defaults
    release_only: bool = False
    #: the release came from ``--lbc-version``, not from the image's tag
    release_given: bool = False
    #: the container's args and image as read, to read them again with a release given (``with_release``)
    args: tuple[str, ...] = field(default=(), compare=False, repr=False)
    image: str = field(default="", compare=False, repr=False)

    def gate(self, name: str, default: bool) -> bool:
        return dict(self.feature_gates).get(name, default)

    @property
    def release_is(self) -> str:
        """``image is v2.5.0`` (its tag), or ``release is v2.5.0`` when ``--lbc-version`` gave it, to follow "the AWS
        Load Balancer Controller's"; "" without a release."""
        if self.version is None:
            return ""
        return f"{'release' if self.release_given else 'image'} is {_release(self.version)}"

    @property
    def load_balancer_only(self) -> bool:
        return self.gate("ServiceTypeLoadBalancerOnly", False)

    def nlb_gateways_off(self) -> str | None:
        """Why the controller reconciles no Gateway of an NLB GatewayClass, or None (it does, or hairpin cannot
        tell).  The feature gate NLBGatewayAPI (``pkg/config/feature_gates.go``) exists from v2.13.0, off by default
        until v3.1.x and on from v3.2.0; ``main.go`` starts the NLB Gateway reconciler only when it is on.  (From
        v3.2.0 the controller also turns the defaulted gate off when a Gateway API CRD it needs is missing,
        ``pkg/gateway/crddetect``; the CRDs are not in the input, so that is not judged here.)"""
        where = f" ({self.source})" if self.source else ""
        set_to = dict(self.feature_gates).get("NLBGatewayAPI")
        if self.version is not None and self.version < (2, 13, 0):
            return f"the AWS Load Balancer Controller's {self.release_is}: the Gateway API came in v2.13.0{where}"
        if set_to is False:
            return f"the AWS Load Balancer Controller runs with the feature gate NLBGatewayAPI=false{where}"
        if set_to is None and self.version is not None and self.version < (3, 2, 0):
            return (f"the AWS Load Balancer Controller's {self.release_is}, whose feature gate NLBGatewayAPI is off "
                    f"unless turned on (on by default from v3.2.0), and its flags do not turn it on{where}")
        return None

    def refuses_services(self, steps: list[str]) -> str | None:
        """With EnableServiceController off: a step saying so appended to ``steps``, and the problem."""
        if self.gate("EnableServiceController", True):
            return None
        steps.append(
            f"the AWS Load Balancer Controller runs with the feature gate EnableServiceController=false "
            f"({self.source}): it reconciles no Service, so no load balancer is built (one built before stays "
            "as it was)"
        )
        return "the AWS Load Balancer Controller does not reconcile Services: feature gate EnableServiceController=false"


def _release(version: tuple[int, int, int]) -> str:
    return "v{}.{}.{}".format(*version)


def _gates(value: str, gates: dict[str, bool], problems: list[str], unknown: list[str] | None,
           version: tuple[int, int, int] | None = None) -> None:  # fmt: skip
    """One ``--feature-gates`` value into ``gates``: the well-formed pairs, a problem for the rest; a name
    v3.5.0 does not know is a problem too, or goes to ``unknown`` when given (an image newer than v3.5); a gate
    newer than the image's ``version`` is a problem and not set."""
    for item in value.split(","):
        if not item:
            continue
        k, eq, v = item.partition("=")
        k, v = k.strip(), v.strip()
        b = parse_bool(v) if eq else None
        if b is None:
            problems.append(f"--feature-gates {item!r} is not KEY=BOOL: the controller refuses to start with it")
            continue
        if k in GATE_FROM and version is not None and version < GATE_FROM[k]:
            problems.append(f"--feature-gates {k!r} is not a feature gate of {_release(version)} (it came in "
                            f"{_release(GATE_FROM[k])}): the controller refuses to start with it")  # fmt: skip
            continue
        if k not in KNOWN_GATES and unknown is not None:
            unknown.append(k)
        elif k not in KNOWN_GATES:
            problems.append(f"--feature-gates {k!r} is not a feature gate (of v3.5.0): the controller refuses to "
                            "start with it")  # fmt: skip
        gates[k] = b


def parse_release(text: str) -> tuple[int, int, int]:
    """``--lbc-version``: ``v2.13.0`` or ``2.13.0`` -> (2, 13, 0).  Bad: InputError (one line)."""
    from hairpin.errors import InputError

    m = re.fullmatch(r"v?(\d{1,4})\.(\d{1,4})\.(\d{1,4})", text.strip())
    if m is None:
        raise InputError(f"--lbc-version: {text!r} is not a release of the AWS Load Balancer Controller like v2.13.0")
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def with_release(flags: LbcFlags | None, release: tuple[int, int, int]) -> LbcFlags:
    """``flags`` read again with ``release`` (``--lbc-version``) for an image whose tag names none; without the
    Deployment (``flags`` None), the defaults of that release, with a warning saying its flags are not known.  An
    image whose tag names a release keeps it, with a warning when ``release`` differs."""
    if flags is None:
        got = lbc_flags((), "", "", release)  # no source: its warnings name --lbc-version themselves
        said = (f"the AWS Load Balancer Controller's Deployment is not in the input: its release is taken to be "
                f"{_release(release)} (--lbc-version) and its flags and feature gates to be that release's defaults")  # fmt: skip
        return LbcFlags(source="--lbc-version", version=got.version, problems=got.problems,
                        warnings=(said, *got.warnings), release_only=True, release_given=True)  # fmt: skip
    return lbc_flags(flags.args, flags.source, flags.image, release)


def lbc_flags(args: Sequence[str], source: str = "", image: str = "",
              release: tuple[int, int, int] | None = None) -> LbcFlags:  # fmt: skip
    """The flags above from the controller's args (``--flag=value`` or ``--flag value``, as spf13/pflag
    reads them; ``--`` ends the flags; the last occurrence of a string flag wins); ``image``: the container's
    image reference, whose tag gives the release, else ``release`` (``--lbc-version``) when given."""
    gates: dict[str, bool] = {}
    strings: dict[str, str] = {}
    problems: list[str] = []
    version = tagged = image_version(image)
    if version is None and release is not None:
        version = release
    no_release = _no_release(image) if version is None else None
    newer = version is not None and version[:2] > NEWEST_READ
    # a gate v3.5.0 does not know: a refusal to start only when the image is a release hairpin read or older
    unknown: list[str] | None = [] if newer or no_release is not None else None
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--":
            break
        if not arg.startswith("--"):
            continue
        name, eq, value = arg[2:].partition("=")
        if name != "feature-gates" and name not in _STRING_FLAGS:
            continue
        if not eq:
            if i >= len(args):
                problems.append(f"--{name} has no value: the controller refuses to start")
                break
            value = args[i]
            i += 1
        if version is not None and version < FLAG_FROM[name]:
            problems.append(f"--{name} is not a flag of {_release(version)} (it came in {_release(FLAG_FROM[name])}): "
                            "the controller refuses to start with it (pflag: unknown flag)")  # fmt: skip
            continue
        if name == "feature-gates":
            _gates(value, gates, problems, unknown, version)
        else:
            strings[name] = value
    target_type = strings.get("default-target-type", "instance")
    if target_type not in ("instance", "ip"):
        problems.append(f"--default-target-type {target_type!r} is not instance or ip: the controller refuses to "
                        "start (controller_config.go validateDefaultTargetType)")  # fmt: skip
        target_type = "instance"
    scheme = strings.get("default-load-balancer-scheme", "internal")
    if scheme not in ("internal", "internet-facing"):
        problems.append(f"--default-load-balancer-scheme {scheme!r} is not internal or internet-facing: the "
                        "controller refuses to start (controller_config.go validateDefaultLoadBalancerScheme)")  # fmt: skip
        scheme = "internal"
    where = f" ({source})" if source else ""
    newest = NEWEST_TAG
    warnings: list[str] = []
    if release is not None and tagged is not None and tagged != release:
        warnings.append(f"--lbc-version {_release(release)} is not used: the AWS Load Balancer Controller's image "
                        f"{shown(image, 300)} names {_release(tagged)}, which hairpin takes{where}")  # fmt: skip
    elif release is not None and tagged is None and image:
        warnings.append(f"the AWS Load Balancer Controller's image {shown(image, 300)} names no release "
                        f"({_no_release(image)}): it is taken to be {_release(release)}, from --lbc-version{where}")  # fmt: skip
    if version is not None and unknown is not None:
        said = f"image is {_release(version)}" if tagged is not None else f"release is {_release(version)} (--lbc-version)"
        warnings.append(f"the AWS Load Balancer Controller's {said}, newer than {newest} (the newest "
                        f"release hairpin read): its defaults and feature gates are taken to be {newest}'s{where}")
        release_said = _release(version)
    elif no_release is not None:
        release_said = "its release"
        warnings.append(f"the AWS Load Balancer Controller's image {shown(image, 300)} names no release ({no_release}): "
                        f"it is taken to be {newest}, the newest release hairpin read, with its defaults and feature "
                        "gates; hairpin reads the release from the image tag, else from --lbc-version, so to check an "
                        f"older release give --lbc-version vX.Y.Z or the image with its tag in the input{where}")  # fmt: skip
    if unknown:
        warnings.extend(f"--feature-gates {k!r} is not a feature gate of {newest}; whether {release_said} knows it (else it "
                        f"refuses to start) is not known to hairpin{where}" for k in dict.fromkeys(unknown))  # fmt: skip
    return LbcFlags(
        feature_gates=tuple(sorted(gates.items())),
        source=source,
        load_balancer_class=strings.get("load-balancer-class", DEFAULT_CLASS),
        default_target_type=target_type,
        default_target_type_set=strings.get("default-target-type") == target_type,
        default_scheme=scheme,
        default_scheme_set=strings.get("default-load-balancer-scheme") == scheme,
        problems=tuple(p + where for p in problems),
        version=version,
        warnings=tuple(warnings),
        release_given=tagged is None and version is not None,
        args=tuple(args),
        image=image,
    )
