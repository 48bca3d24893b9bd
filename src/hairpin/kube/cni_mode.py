"""The AWS VPC CNI's address family, from the environment of an aws-node pod's ``aws-node`` container.

Facts (aws/amazon-vpc-cni-k8s v1.23.0):

- ipamd reads ``ENABLE_IPv6``, ``ENABLE_IPv4``, ``ENABLE_PREFIX_DELEGATION`` and
  ``AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG`` with ``utils.GetBoolAsStringEnvVar`` (``utils/utils.go``): Go's
  strconv.ParseBool, and the default when the variable is unset or does not parse.  The defaults in the code
  are all false (``pkg/ipamd/ipamd.go`` isIPv4Enabled, isIPv6Enabled, usePrefixDelegation); the DaemonSet
  (``config/master/aws-k8s-cni.yaml``) sets ENABLE_IPv4=true, ENABLE_IPv6=false, ENABLE_PREFIX_DELEGATION=false.
- ``isConfigValid`` (``pkg/ipamd/ipamd.go``), run before ipamd starts, refuses both families on ("IPv4 and IPv6
  are both enabled. VPC CNI currently does not support dual stack mode"), both off, and IPv6 with custom
  networking or without prefix delegation ("IPv6 is supported only in Prefix Delegation mode. Custom
  Networking is not supported in IPv6 mode."): ipamd does not start and the node's new pods get no address.
- In IPv6 mode (from v1.10.0; the README's ``ENABLE_IPv6``) pods get IPv6 addresses from the prefix on the
  node's primary ENI, and the CNI writes the host setup ``hairpin.kube.cni`` describes for IPv6: no SNAT or
  connection-mark rules, the per-pod ``to <pod>/128`` ip rules.  The cluster is then an IPv6 cluster: its
  Services get IPv6 cluster IPs ("IPv6 addresses to clusters, Pods, and services", Amazon EKS User Guide).  A
  pod's IPv4 traffic goes through the egress plugin (``cmd/egress-cni-plugin`` cmdAddEgressV4: an address in
  169.254.172.0/22, SNAT to the node's IPv4 address), which hairpin does not model.
- Prefix delegation in IPv4 mode changes where pod addresses come from (/28 prefixes on the ENIs), not the
  per-pod host setup: ``cmd/routed-eni-cni-plugin/driver/driver.go`` SetupPodNetwork adds the same routes and
  rules for each pod address whatever it was allocated from.  hairpin reads it only for the IPv6 check above.

Only values written in the pod spec (``value``) are read; a variable taken from a ConfigMap or Secret
(``valueFrom``) is unknown, and so is the mode then.

Every aws-node pod's environment is read, and the pod template of the DaemonSet kube-system/aws-node when the
input holds it (``cni_settings``).  ipamd reads its environment once, when its container starts
(``cmd/aws-k8s-agent/main.go`` calls ``ipamd.New`` once; ``pkg/ipamd/ipamd.go`` New calls ``isIPv4Enabled``,
``isIPv6Enabled`` and the others; read at commit b5218838, 2026-08-20), so each node runs with its own
pod's settings; a DaemonSet's pods take the template's environment only when they are created, so during a
rollout (or with the ``OnDelete`` update strategy, or pods edited one by one) pods and template can differ.  The
pods are what runs now and the template is what a new or replaced pod gets: when they all agree either one
serves; when the input holds no aws-node pod the template stands in.  When any two differ on a variable read
here, a warning names the first two sources that differ, and the mode is not known unless every source gives the
same mode: the cluster is then between two configurations, and any node added or pod replaced takes the
template's, so no single pod's reading describes the cluster.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["DIFFER", "ENV", "SETTINGS", "TEMPLATE", "CniMode", "CniSettings", "cni_mode", "cni_settings"]

#: the aws-node container's variables read here
ENV = ("ENABLE_IPv6", "ENABLE_IPv4", "ENABLE_PREFIX_DELEGATION", "AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG")

#: how every warning on the VPC CNI's settings begins (``hairpin scenario from-cluster`` prints them too)
SETTINGS = "VPC CNI settings"
#: how a warning on aws-node sources that disagree begins
DIFFER = f"{SETTINGS} differ:"
#: the ``where`` of the DaemonSet's pod template (a pod's is ``aws-node in pod NS/NAME``)
TEMPLATE = "aws-node in the pod template of DaemonSet kube-system/aws-node"

_TRUE = {"1", "t", "T", "TRUE", "true", "True"}  # Go strconv.ParseBool
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


@dataclass(frozen=True)
class CniMode:
    """The VPC CNI's family on the nodes, where hairpin read it, and ipamd's refusal of the settings if any."""

    ipv6: bool
    where: str
    refused: str | None = None


def _bool(env: Mapping[str, str | None], name: str) -> bool | None:
    """GetBoolAsStringEnvVar with default false; None when the variable's value is not in the input."""
    if name not in env:
        return False
    value = env[name]
    if value is None:
        return None
    return value in _TRUE  # a value ParseBool refuses is the default, false (not in _FALSE either)


def cni_mode(env: Mapping[str, str | None], where: str) -> CniMode | None:
    """The mode ``env`` (the aws-node container's variables of ``ENV``: name -> literal value, None for a
    ``valueFrom``) sets up, or None when ENABLE_IPv6 is not given as a value (the DaemonSet's IPv4 default then
    holds, but hairpin does not claim it)."""
    if env.get("ENABLE_IPv6") is None:
        return None
    v6 = _bool(env, "ENABLE_IPv6") is True
    # ENABLE_IPv4 absent: ipamd's default is false, but a DaemonSet that leaves it out predates it or sets it
    # elsewhere; hairpin takes it as not known rather than claim a refusal
    v4 = _bool(env, "ENABLE_IPv4") if "ENABLE_IPv4" in env else None
    pd, custom = _bool(env, "ENABLE_PREFIX_DELEGATION"), _bool(env, "AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG")
    refused = None  # only a sure refusal: a value not in the input is taken as valid
    if v6 and v4 is True:
        refused = "IPv4 and IPv6 are both enabled. VPC CNI currently does not support dual stack mode"
    elif v6 and (custom is True or pd is False):
        refused = ("IPv6 is supported only in Prefix Delegation mode. Custom Networking is not supported in IPv6 "
                   "mode.")  # fmt: skip
    elif not v6 and v4 is False:
        refused = "IPv4 and IPv6 are both disabled. One of them have to be enabled"
    raw = env["ENABLE_IPv6"] or ""
    shown = raw if raw.isprintable() and len(raw) <= 40 else repr(raw[:40])
    return CniMode(v6, f"ENABLE_IPv6={shown} on {where}", refused)


@dataclass(frozen=True)
class CniSettings:
    """What every aws-node source in the input says together: the mode they agree on (None: not given, or they
    disagree: ``split`` then says how), and a warning for each source that differs from the first one on a
    variable of ``ENV`` (the first such source of each variable)."""

    mode: CniMode | None
    split: str | None
    warnings: tuple[str, ...]
    #: some source sets IPv6 mode (with ``split``: the sources disagree, and one of them says IPv6)
    any_ipv6: bool = False


def _said(name: str, env: Mapping[str, str | None]) -> str:
    if name not in env:
        return f"{name} not set"
    value = env[name]
    if value is None:
        return f"{name} from a ConfigMap or Secret (valueFrom, not in the input)"
    shown = value if value.isprintable() and len(value) <= 40 else repr(value[:40])
    return f"{name}={shown}"


def _read(pods: int, template: bool) -> str:
    read = f"{pods} aws-node pod{'' if pods == 1 else 's'}"
    return read + (" and the DaemonSet's pod template" if template else "") + " read"


def cni_settings(pods: Sequence[tuple[str, Mapping[str, str | None]]],
                 template: tuple[str, Mapping[str, str | None]] | None = None) -> CniSettings:  # fmt: skip
    """The VPC CNI's settings from each aws-node pod's ``aws-node`` container (``where``, ``ENV`` variables, in input
    order) and the DaemonSet's pod template: the template is only compared when there are pods, and stands in for
    them when there are none."""
    sources = [*pods, *([template] if template is not None else [])]
    if not sources:
        return CniSettings(None, None, ())
    read = _read(len(pods), template is not None and bool(pods))
    first_where, first = sources[0]
    # per variable, the first source that differs from the first one, compared as ipamd reads the values
    # (GetBoolAsStringEnvVar: "True" and "true" alike, unset and "no" both the default, false); a value from
    # valueFrom is unknown, so it differs from every value written in the input.  One warning per such source.
    differs: dict[int, list[str]] = {}
    for name in ENV:
        want = _bool(first, name)
        i = next((i for i in range(1, len(sources)) if _bool(sources[i][1], name) != want), None)
        if i is not None:
            differs.setdefault(i, []).append(name)
    modes = [cni_mode(env, where) for where, env in sources]
    first_mode = modes[0]
    key = (first_mode.ipv6, first_mode.refused) if first_mode is not None else None
    odd = next((i for i, m in enumerate(modes) if ((m.ipv6, m.refused) if m is not None else None) != key), None)
    split = None if odd is None else (f"the aws-node sources disagree on the VPC CNI's mode "
                                      f"({_family(first_mode, first_where)}; {_family(modes[odd], sources[odd][0])})")  # fmt: skip
    warnings = []
    for i, names in sorted(differs.items()):
        where, env = sources[i]
        warnings.append(f"{DIFFER} {first_where} has {', '.join(_said(n, first) for n in names)}; {where} has "
                        f"{', '.join(_said(n, env) for n in names)} ({read})")  # fmt: skip
    if split is not None and warnings:
        why = ("new and replaced pods get the template's settings" if odd == len(pods)
               else "each node runs with its own pod's settings")  # fmt: skip
        warnings[0] += f": {why}, so hairpin takes the VPC CNI's mode as not known"
    mode = first_mode if odd is None else None
    any_ipv6 = any(m is not None and m.ipv6 for m in modes)
    return CniSettings(mode, split, tuple(warnings), any_ipv6)


def _family(mode: CniMode | None, where: str) -> str:
    if mode is None:
        return f"not given on {where}"
    family = "IPv6" if mode.ipv6 else "IPv4"
    return f"{family} mode, {mode.where}" + (f', which ipamd refuses ("{mode.refused}")' if mode.refused else "")
