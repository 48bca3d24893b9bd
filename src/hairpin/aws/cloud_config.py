"""The AWS cloud provider's cloud config: whether it puts a security group on the NLBs it builds, and why hairpin thinks so.

Facts (kubernetes/cloud-provider-aws, checked 2026-12-02 against its master of 2026-07-07 and tags up to v1.36.1):

- ``[Global] NLBSecurityGroupMode = Managed`` in the cloud config (``pkg/providers/v1/config/config.go``, added by
  PR #1158, commit of 2025-06-09; first tag v1.35.0, 2025-12-22; in every later tag, none before): the provider
  then creates a security group for each NLB it creates, attaches it, and writes its inbound rules
  (``pkg/providers/v1/aws.go`` ensureNLBSecurityGroup, ensureNLBSecurityGroupRules): one rule per listener port
  (protocol of the listener) from each source range, plus ICMP type 3 code 4 from the same ranges
  (createSecurityGroupRules).  The source ranges are ``servicehelpers.GetLoadBalancerSourceRanges``: the spec
  field, else the annotation ``service.beta.kubernetes.io/load-balancer-source-ranges``, else ``0.0.0.0/0``
  (k8s.io/cloud-provider ``service/helpers``): IPv4 ``IpRanges`` only, and the provider builds IPv4 NLBs only.
- In that mode the instances' security group gets the same rules as without it (aws_loadbalancer.go
  updateInstanceSecurityGroupsForNLB: the source ranges, else 0.0.0.0/0, on the node ports; the NLB subnets' CIDRs
  on the health-check ports).  Client IP preservation changes neither group: the NLB's group admits only the
  source ranges whatever the target group keeps, so a caller outside them is dropped at the NLB either way.
  (PR #1458, open on 2026-06-30, would make the instances' rules reference the NLB's group instead.)
- The value is compared exactly: empty or absent is the old behaviour (no security group); anything but
  ``Managed`` (``managed``, `` Managed ``) is an error (IsNLBSecurityGroupModeManaged), returned by
  EnsureLoadBalancer: v1.35.0 to v1.36.1 check it only when creating an NLB, so no new NLB is built.
- Only NLBs created while the mode is on get a group: an NLB created without security groups cannot be given
  any (AWS), so the provider leaves an existing one without (``docs/nlb_security_groups.md``, "Upgrade and
  Migration Notes"; ensureNLBSecurityGroup).
- ``service.beta.kubernetes.io/aws-load-balancer-security-groups`` on an NLB Service in Managed mode attaches those
  groups instead of a managed one and writes no rules ("BYO SG", PR #1379, merged 2026-06-05 to master after
  release-1.36 was cut: in no tag up to v1.36.1, assumed from v1.37.0); releases before ignore it on NLBs and
  attach the managed group.  Without Managed mode the annotation is ignored on NLBs (docs/nlb_security_groups.md).
- The file is read with gcfg (``gopkg.in/gcfg.v1``, ``gcfg.FatalOnly(gcfg.ReadInto(...))``, aws.go
  readAWSCloudConfig): git-config syntax, section and variable names compared ignoring case, ``;`` and ``#`` start
  comments outside double quotes, a value may be quoted (escapes ``\\n``, ``\\\\``, ``\\"``) and continued with a
  ``\\`` at the end of the line; an unknown variable is not fatal (so a release without the setting ignores it).
  OpenShift keeps the file the cloud-controller-manager reads in ConfigMap
  ``openshift-cloud-controller-manager/cloud-conf`` (key ``cloud.conf``).

The provider's minor release follows the cluster's Kubernetes minor (``hairpin.aws.cloud_provider``).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hairpin.aws import controller as ctl
from hairpin.aws.cloud_provider import Version
from hairpin.errors import InputError

__all__ = [
    "BYO",
    "KEY",
    "MANAGED",
    "OPENSHIFT",
    "CloudConfig",
    "SgMode",
    "apply",
    "decide",
    "from_config_map",
    "from_text",
    "parse_ini",
    "to_json",
]

KEY = "NLBSecurityGroupMode"
BYO = ctl.annotation("aws-load-balancer-security-groups")
MANAGED = "Managed"
#: the ConfigMap OpenShift's cloud-controller-manager reads its cloud config from, and its key
OPENSHIFT = ("openshift-cloud-controller-manager", "cloud-conf", "cloud.conf")
#: the first cloud-provider-aws minor with the setting (v1.35.0) and with the BYO annotation on NLBs (assumed)
SETTING_MINOR = 35
BYO_MINOR = 37
SETTING_PR = "cloud-provider-aws PR #1158, in v1.35.0 and later"
BYO_PR = "cloud-provider-aws PR #1379, merged 2026-06-05, in no release up to v1.36.1"

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
_SECTION = re.compile(r'\[\s*([A-Za-z][A-Za-z0-9-]*)\s*(?:"((?:[^"\\\n]|\\.)*)"\s*)?\]\s*(?:[;#].*)?')


@dataclass(frozen=True)
class CloudConfig:
    """``[Global] NLBSecurityGroupMode`` as read (``""``: not set) and where from."""

    mode: str
    source: str


def _value(raw: str, file: str, line: int) -> str:
    """A gcfg value: quotes removed, escapes resolved, trailing blanks and the comment dropped."""
    raw = raw.lstrip(" \t\r")  # blanks before the value are skipped (the scanner's skipWhitespace)
    out: list[str] = []
    quoted = False
    keep = 0  # length of ``out`` up to the last character that is kept (no trailing blanks outside quotes)
    i = 0
    while i < len(raw):
        ch = raw[i]
        i += 1
        if not quoted and ch in ";#":
            break
        if ch == '"':
            quoted = not quoted
            keep = len(out)
            continue
        if ch == "\\":
            nxt = raw[i : i + 1]
            if not quoted:
                raise InputError("unquoted '\\' must be followed by a new line (gcfg)", file, line)
            if nxt not in ("n", "\\", '"'):
                raise InputError(f"unknown escape sequence \\{nxt} (gcfg)", file, line)
            out.append("\n" if nxt == "n" else nxt)
            i += 1
            keep = len(out)
            continue
        out.append(ch)
        if quoted or ch not in " \t\r":
            keep = len(out)
    if quoted:
        raise InputError("string not terminated (gcfg)", file, line)
    return "".join(out[:keep])


def parse_ini(text: str, file: str, first_line: int = 1) -> dict[str, dict[str, str]]:
    """A gcfg (git-config style) file as {section (lower case, with ``.sub`` when it has one): {variable (lower
    case): last value}}.  A variable without ``=`` is ``"true"`` (gcfg's implicit boolean).  Bad: InputError naming
    the line (``first_line`` is the number of the text's first line in ``file``)."""
    out: dict[str, dict[str, str]] = {}
    section: dict[str, str] | None = None
    lines = text.split("\n")
    n = 0
    while n < len(lines):
        start = n
        line = lines[n]
        n += 1
        # a '\' at the end of an unquoted value continues it on the next line
        while line.rstrip("\r").endswith("\\") and line.count('"') % 2 == 0 and n < len(lines) and "=" in line:
            line = line.rstrip("\r")[:-1] + lines[n]
            n += 1
        at = first_line + start
        body = line.strip(" \t\r")
        if not body or body[0] in ";#":
            continue
        if body.startswith("["):
            m = _SECTION.fullmatch(body)
            if m is None:
                raise InputError(f"not a section header: {body[:60]!r} (gcfg: [name] or [name \"sub\"])", file, at)
            name = m.group(1).lower() + (f".{m.group(2)}" if m.group(2) is not None else "")
            section = out.setdefault(name, {})
            continue
        m2 = _NAME.match(body)
        if m2 is None:
            raise InputError(f"expected a variable name or a [section]: {body[:60]!r}", file, at)
        if section is None:
            raise InputError(f"variable {m2.group(0)} before any [section] (gcfg)", file, at)
        rest = body[m2.end() :].lstrip(" \t")
        if not rest or rest[0] in ";#":
            section[m2.group(0).lower()] = "true"
            continue
        if rest[0] != "=":
            raise InputError(f"expected '=' after {m2.group(0)}: {body[:60]!r}", file, at)
        section[m2.group(0).lower()] = _value(rest[1:], file, at)
    return out


def from_text(text: str, source: str, file: str, first_line: int = 1) -> CloudConfig:
    """The mode in a cloud config's text (InputError when it is not gcfg)."""
    ini = parse_ini(text, file, first_line)
    return CloudConfig(ini.get("global", {}).get(KEY.lower(), ""), source)


def from_config_map(namespace: str, name: str, data: dict[str, object], file: str | None,
                    line: int | None) -> CloudConfig | None:  # fmt: skip
    """The cloud config a ConfigMap holds: a value with a ``[Global]`` section that sets NLBSecurityGroupMode, or
    OpenShift's ``cloud.conf`` in ``openshift-cloud-controller-manager/cloud-conf`` (without the variable: not set).
    Another value that mentions the variable and is not gcfg: InputError; None when it holds no cloud config."""
    openshift = (namespace, name) == OPENSHIFT[:2]
    for key in sorted(data):
        text = data[key]
        if not isinstance(text, str):
            continue
        ours = openshift and key == OPENSHIFT[2]
        if not ours and not (KEY.lower() in text.lower() and re.search(r"(?im)^\s*\[\s*global\s*\]", text)):
            continue
        where = f"ConfigMap {namespace}/{name} ({key})"
        try:
            ini = parse_ini(text, where)
        except InputError as exc:
            raise InputError(f"{where} line {exc.line}: {exc.message}", file, line) from None
        glob = ini.get("global")
        if glob is None or (not ours and KEY.lower() not in glob):
            continue
        return CloudConfig(glob.get(KEY.lower(), ""), where)
    return None


@dataclass(frozen=True)
class SgMode:
    """Whether the cloud provider puts its own security group on the NLBs it builds.

    ``managed``: True, False, or None (not known: no cloud config in the input, or several that disagree);
    ``invalid``: the value the provider refuses (EnsureLoadBalancer fails for a new NLB); ``byo``: whether it
    honours ``aws-load-balancer-security-groups`` on NLBs (None: its release is not known); ``note``: one
    sentence saying what was read and assumed, for the steps; ``source``: where the mode came from."""

    managed: bool | None
    value: str | None
    source: str
    note: str
    invalid: str | None = None
    byo: bool | None = None

    @property
    def label(self) -> str:
        """Managed | unset | invalid | unknown (the JSON field)."""
        if self.invalid is not None:
            return "invalid"
        if self.managed is None:
            return "unknown"
        return "Managed" if self.managed else "unset"


def _minor(provider: Version | None, kubernetes: Version | None, kube_from: str,
           kubelet: Version | None) -> tuple[int | None, bool, str]:  # fmt: skip
    """(the cloud provider's minor, whether it is certain, where it came from)."""
    if provider is not None:
        return (provider[1] if provider[0] == 1 else 99), True, f"cloud-provider-aws v{provider[0]}.{provider[1]}"
    if kubernetes is not None:
        return kubernetes[1] if kubernetes[0] == 1 else 99, True, f"Kubernetes v{kubernetes[0]}.{kubernetes[1]} ({kube_from})"
    if kubelet is not None:
        return kubelet[1] if kubelet[0] == 1 else 99, False, f"Kubernetes v{kubelet[0]}.{kubelet[1]} or newer (the newest kubelet)"
    return None, False, "release unknown"


def decide(configs: list[CloudConfig], *, provider: Version | None = None, kubernetes: Version | None = None,
           kube_from: str = "", kubelet: Version | None = None) -> SgMode:  # fmt: skip
    """The mode from ``configs`` (``--cloud-config`` first, it wins; then the ConfigMaps of the input) and the
    versions known (the provider's release, the cluster's version, else the newest kubelet: a lower bound)."""
    if not configs:
        return SgMode(None, None, "", f"{KEY} unknown: no cloud config in the input (--cloud-config FILE)")
    first = configs[0]
    if not first.source.startswith("--cloud-config"):
        others = sorted({c.mode for c in configs})
        if len(others) > 1:
            shown = "; ".join(f"{c.source}: {c.mode or '(not set)'}" for c in configs)
            return SgMode(None, None, "", f"{KEY} unknown: the input's cloud configs disagree ({shown}); give "
                          "--cloud-config FILE")  # fmt: skip
    mode, src = first.mode, first.source
    minor, certain, seen = _minor(provider, kubernetes, kube_from, kubelet)
    if mode == "":
        return SgMode(False, "", src, f"{KEY} not set ({src}): the cloud provider puts no security group on its NLBs")
    if mode != MANAGED:
        return SgMode(None, mode, src, f"{KEY} = {mode} ({src}) is refused by cloud-provider-aws v1.35.0 and later "
                      f"(config.go IsNLBSecurityGroupModeManaged: invalid NLB security group mode: \"{mode}\". "
                      f"Expected: \"{MANAGED}\")", invalid=mode)  # fmt: skip
    if minor is not None and certain and minor < SETTING_MINOR:
        return SgMode(False, mode, src, f"{KEY} = {MANAGED} ({src}), but {seen} predates the setting ({SETTING_PR}): "
                      "it ignores it and puts no security group on its NLBs")  # fmt: skip
    assumed = "" if minor is not None and minor >= SETTING_MINOR else f" (assumed: a release that has it, {SETTING_PR}; {seen})"
    byo: bool | None = None
    if minor is not None and (certain or minor >= BYO_MINOR):
        byo = minor >= BYO_MINOR
    note = (f"{KEY} = {MANAGED} ({src}){assumed}: the cloud provider creates a security group for each NLB it creates, "
            "admitting the source ranges (else 0.0.0.0/0) on the listener ports (aws.go ensureNLBSecurityGroupRules)")  # fmt: skip
    return SgMode(True, mode, src, note, byo=byo)


def apply(s: ctl.Settings, annotations: Mapping[str, str], mode: SgMode, *, existing: bool = True) -> ctl.Settings:
    """``s`` (an in-tree NLB's settings) with the NLB's security groups as ``mode`` says, the step saying why, and
    a problem or a warning for what the mode leaves open.  Other settings are returned as they are.  An invalid
    mode fails a new NLB: a Service not yet in the cluster (``existing`` False) then gets no load balancer."""
    if s.controller != ctl.IN_TREE or not s.is_nlb:
        return s
    steps, problems, warnings = list(s.steps), list(s.problems), list(s.warnings)
    at = max(len(steps) - 1, 0)
    own = BYO in annotations
    sg, ignored = False, False
    if mode.invalid is not None:
        problems.append(f"{mode.note}: the cloud provider fails every new NLB (an NLB built before is left as it "
                        f"is, v1.35.0 to v1.36.1); fix: {KEY} = {MANAGED}, or remove it")  # fmt: skip
        if not existing:
            step = f"{mode.note}: EnsureLoadBalancer fails, no load balancer is built"
            return ctl.Settings(ctl.NONE, "none", "unknown", None, None, False, s.external_traffic_policy,
                                steps=(*steps, step), problems=tuple(problems), warnings=tuple(warnings),
                                sg_mode=mode.label, sg_mode_from=mode.source or None)  # fmt: skip
        steps.insert(at, mode.note + "; security groups judged as unknown")
    elif mode.managed is None:
        steps.insert(at, mode.note)
    elif not mode.managed:
        ignored = True
        tail = f" ({BYO} is ignored on NLBs without Managed mode)" if own else ""
        steps.insert(at, f"no security group on the NLB: {mode.note}{tail}")
    else:
        sg = True
        if own and mode.byo is False:
            ignored = True
            steps.insert(at, f"security groups on the NLB: {mode.note}; {BYO} is ignored on NLBs by this release "
                             f"(honoured from {BYO_PR}, assumed from v1.37.0)")  # fmt: skip
        elif own:
            steps.insert(at, f"security groups on the NLB: {mode.note}; {BYO} names your own groups instead (their "
                             "rules are not in Kubernetes objects)")  # fmt: skip
            if mode.byo is None:
                warnings.append(f"{BYO} on an NLB with {KEY} = {MANAGED}: cloud-provider-aws attaches these groups "
                                f"instead of its own only from {BYO_PR} (assumed from v1.37.0); a release up to v1.36.1 "
                                "ignores the annotation and attaches its managed group, which admits only the source "
                                "ranges (else 0.0.0.0/0); give --cloud-provider-version to decide")  # fmt: skip
        else:
            steps.insert(at, f"security groups on the NLB: {mode.note}")
    return dataclasses.replace(s, steps=tuple(steps), problems=tuple(problems), warnings=tuple(warnings),
                               security_groups=sg, own_groups_ignored=ignored, sg_mode=mode.label,
                               sg_mode_from=mode.source or None)  # fmt: skip


def to_json(mode: SgMode | None) -> dict[str, Any]:
    """The report's ``cloud_config``: the mode hairpin used for in-tree NLBs and where it came from."""
    if mode is None:
        return {"nlb_security_group_mode": "unknown", "value": None, "source": None, "note": ""}
    return {"nlb_security_group_mode": mode.label, "value": mode.value, "source": mode.source or None,
            "note": mode.note}  # fmt: skip
