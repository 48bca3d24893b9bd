"""The AWS VPC CNI's address family (and its SNAT settings), from the environment of an aws-node pod's ``aws-node``
container.

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

The SNAT settings (``SNAT_ENV``: AWS_VPC_K8S_CNI_EXTERNALSNAT, AWS_VPC_K8S_CNI_RANDOMIZESNAT,
AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS) are read from the same sources and compared the same way, each as the CNI reads
it (``reading``; facts and what hairpin does with them: ``hairpin.kube.cni_snat``); they do not touch the mode.

The init container ``aws-vpc-cni-init`` (in the same pod and template, ``config/master/aws-k8s-cni.yaml``) reads
ENABLE_IPv6 too, for the node's IPv6 setup (``cmd/aws-vpc-cni-init/main.go`` configureIPv6Settings, read at commit
b5218838): when true it sets ``net.ipv6.conf.all.disable_ipv6=0``, ``net.ipv6.conf.all.forwarding=1`` and
``accept_ra=2`` on the primary interface; otherwise it leaves them as they are.  The README (``ENABLE_IPv6``) says to
set it on both containers.  ipamd and the CNI plugin do not turn IPv6 forwarding on in IPv6 mode (the egress plugin
turns forwarding on only for the family of the addresses it gives, IPv4 in IPv6 mode: ``cmd/egress-cni-plugin``
cmdAddEgressV4 calls ``pkg/utils/cniutils`` EnableIpForwarding; the routed-eni plugin sets per-veth sysctls only),
and the kernel forwards no IPv6 packet while ``all.forwarding`` is 0 (its default; Linux
``Documentation/networking/ip-sysctl.rst``, conf/all/forwarding), so an aws-node container in IPv6 mode whose
init container's ENABLE_IPv6 is not true leaves a node that reaches its pods only if its OS (or an earlier aws-node
pod's init container, since the sysctl lasts until reboot) turned forwarding on: ``init_ipv6_warning`` says so.
Nothing else in the CNI turns it on either (read at commit b5218838: ``net/ipv6/conf/all/forwarding`` is written by
configureIPv6Settings and by EnableIpForwarding, which the egress plugin calls for IPv4 only; v1.10.0, the first
release with IPv6 mode, has the same in ``scripts/init.sh``, and its ``scripts/entrypoint.sh`` sets no sysctl), and
every manifest of the CNI since v1.10.0 runs the init container (``config/master/aws-k8s-cni.yaml``, the Helm
chart's ``charts/aws-vpc-cni/templates/daemonset.yaml``).  So a pod (or template) in IPv6 mode that lists no init
container at all leaves the node's IPv6 forwarding to its OS as well: ``no_init_ipv6_warning`` says so.  One that
lists other init containers but none named aws-vpc-cni-init is not claimed (the init image may run under another
name).
The init container reads it with GetBoolAsStringEnvVar from v1.13.0; v1.10.0 to v1.12.x (``scripts/init.sh``, then
the same main.go) took only the exact string "true", so a "True" or "1" there did not set the node up: hairpin does
not warn about that one.

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

import functools
import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from hairpin.aws.lbc_flags import parse_bool

__all__ = [
    "DIFFER",
    "ENV",
    "EXCLUDE_SNAT",
    "EXTERNAL_SNAT",
    "INIT",
    "INIT_IPV6",
    "NO_INIT",
    "RANDOMIZE_SNAT",
    "SETTINGS",
    "SNAT_ENV",
    "TEMPLATE",
    "CniMode",
    "CniSettings",
    "cni_mode",
    "cni_settings",
    "exclude_snat_cidrs",
    "init_ipv6_warning",
    "no_init_ipv6_warning",
    "reading",
    "snat_type",
]

EXTERNAL_SNAT = "AWS_VPC_K8S_CNI_EXTERNALSNAT"
RANDOMIZE_SNAT = "AWS_VPC_K8S_CNI_RANDOMIZESNAT"
EXCLUDE_SNAT = "AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS"
#: the SNAT settings (``hairpin.kube.cni_snat``), compared across the sources like the family's
SNAT_ENV = (EXTERNAL_SNAT, RANDOMIZE_SNAT, EXCLUDE_SNAT)
#: the aws-node container's variables read here
ENV = ("ENABLE_IPv6", "ENABLE_IPv4", "ENABLE_PREFIX_DELEGATION", "AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG", *SNAT_ENV)

#: keys of a source's mapping beside ``ENV`` (never compared by ``differing``): INIT is there ("") when the pod (or
#: template) has the init container aws-vpc-cni-init, INIT_IPV6 when that container sets ENABLE_IPv6 (None: valueFrom)
INIT = "aws-vpc-cni-init"
INIT_IPV6 = f"{INIT} ENABLE_IPv6"
#: a key there ("") when the pod (or template) lists no init container at all
NO_INIT = "no init container"

#: how every warning on the VPC CNI's settings begins (``hairpin scenario from-cluster`` prints them too)
SETTINGS = "VPC CNI settings"
#: how a warning on aws-node sources that disagree begins
DIFFER = f"{SETTINGS} differ:"
#: the ``where`` of the DaemonSet's pod template (a pod's is ``aws-node in pod NS/NAME``)
TEMPLATE = "aws-node in the pod template of DaemonSet kube-system/aws-node"



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
    return parse_bool(value) is True  # a value ParseBool refuses is the default, false


#: AWS_VPC_K8S_CNI_RANDOMIZESNAT's values and the flag each gives the SNAT rule (pkg/networkutils/network.go
#: typeOfSNAT and buildIptablesSNATRules; prng falls back to --random when iptables lacks --random-fully)
SNAT_TYPES = {"prng": "--random-fully", "hashrandom": "--random", "none": "no randomisation flag"}


def snat_type(value: str | None) -> str | None:
    """AWS_VPC_K8S_CNI_RANDOMIZESNAT as ``typeOfSNAT`` reads it (v1.7.0 to v1.23.0, ``pkg/networkutils/network.go``):
    unset or "" is the default, prng; "prng", "hashrandom" and "none" exactly as written (no trimming, case
    sensitive); any other value is logged ("Failed to parse ...; using default: prng") and taken as prng.  None for a
    value not in the input (valueFrom).  Releases before v1.7.0 defaulted to hashrandom: hairpin models 1.7 on."""
    if value is None:
        return None
    return value if value in SNAT_TYPES else "prng"


#: what Go's strings.TrimSpace trims (unicode.IsSpace: the White_Space property)
_GO_SPACE = " \t\n\v\f\r\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"


_MAPPED = "mapped"


def _go_ipv4_cidr(text: str) -> str | None:
    """``net.ParseCIDR(strings.TrimSpace(text))`` kept when IPv4 (``parseCIDRString``): the network, or None for an
    entry the CNI skips.  Go takes ``ADDR/BITS`` only (no netmask form, no bare address) and no leading zeros in
    the address; the prefix length is decimal digits."""
    addr, slash, bits = text.strip(_GO_SPACE).partition("/")
    bits = bits.lstrip("0") or ("0" if bits else "")
    if not slash or not bits.isascii() or not bits.isdigit() or len(bits) > 3:
        return None
    if ":" in addr:
        try:  # Go's To4 takes an IPv4-mapped address (::ffff:a.b.c.d) as IPv4: hairpin does not claim how it is read
            mapped = ipaddress.IPv6Network(f"{addr}/{bits}", strict=False).network_address.ipv4_mapped is not None
        except ValueError:
            return None
        return _MAPPED if mapped else None
    try:
        return str(ipaddress.IPv4Network(f"{addr}/{bits}", strict=False))
    except ValueError:
        return None


@functools.lru_cache(maxsize=64)  # one value on every aws-node pod of a large cluster: parsed once
def exclude_snat_cidrs(value: str | None) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS as ``parseCIDRString`` reads it (``pkg/networkutils/network.go``, v1.12.6
    and v1.13.0 to v1.23.0): split at commas, each entry trimmed and parsed with Go's ``net.ParseCIDR``; an entry that
    does not parse or is IPv6 is logged and skipped; the rest are taken as their networks (``10.1.2.3/16`` is
    10.1.0.0/16).  Returns (taken, skipped as written), or None for a value not in the input (valueFrom) or with an
    IPv4-mapped IPv6 entry (which Go's ``To4`` takes as IPv4: not claimed here).  Earlier
    releases (``getExcludeSNATCIDRs``, v1.7.0 to v1.12.5) neither trim, so an entry with spaces around it is skipped
    there, nor skip IPv6 entries."""
    if value is None:
        return None
    if value == "":
        return (), ()
    taken: list[str] = []
    skipped: list[str] = []
    for entry in value.split(","):
        cidr = _go_ipv4_cidr(entry)
        if cidr == _MAPPED:
            return None
        if cidr is None:
            skipped.append(entry)
        else:
            taken.append(cidr)
    return tuple(taken), tuple(skipped)


def reading(env: Mapping[str, str | None], name: str) -> object:
    """``name`` of ``env`` as the CNI reads it, for comparing sources (None: valueFrom): the booleans with
    ParseBool and default false, RANDOMIZESNAT with ``snat_type``, the CIDRs those ``exclude_snat_cidrs`` takes."""
    if name == RANDOMIZE_SNAT:
        return snat_type(env.get(name, ""))
    if name == EXCLUDE_SNAT:
        cidrs = exclude_snat_cidrs(env.get(name, ""))
        return None if cidrs is None else cidrs[0]
    return _bool(env, name)


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
    return CniMode(v6, f"ENABLE_IPv6={_value(env['ENABLE_IPv6'] or '')} on {where}", refused)


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


def _value(value: str) -> str:
    """A variable's value as a warning shows it: as written when printable and at most 40 characters, else quoted."""
    return value if value.isprintable() and len(value) <= 40 else repr(value[:40])


def _said(name: str, env: Mapping[str, str | None]) -> str:
    if name not in env:
        return f"{name} not set"
    value = env[name]
    if value is None:
        return f"{name} from a ConfigMap or Secret (valueFrom, not in the input)"
    return f"{name}={_value(value)}"


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
    differs: dict[int, list[str]] = {}
    for name, i in differing(sources).items():
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
    for init in (init_ipv6_warning(sources), no_init_ipv6_warning(sources)):
        if init is not None:
            warnings.append(init)
    mode = first_mode if odd is None else None
    any_ipv6 = any(m is not None and m.ipv6 for m in modes)
    return CniSettings(mode, split, tuple(warnings), any_ipv6)


def differing(sources: Sequence[tuple[str, Mapping[str, str | None]]]) -> dict[str, int]:
    """Per variable of ``ENV``, the index of the first source that differs from the first one, compared as the CNI
    reads the values (``reading``: GetBoolAsStringEnvVar's "True" and "true" alike, unset and "no" both the default,
    false); a value from valueFrom is unknown, so it differs from every value written in the input."""
    out: dict[str, int] = {}
    for name in ENV:
        want = reading(sources[0][1], name)
        i = next((i for i in range(1, len(sources)) if reading(sources[i][1], name) != want), None)
        if i is not None:
            out[name] = i
    return out


def _family(mode: CniMode | None, where: str) -> str:
    if mode is None:
        return f"not given on {where}"
    family = "IPv6" if mode.ipv6 else "IPv4"
    return f"{family} mode, {mode.where}" + (f', which ipamd refuses ("{mode.refused}")' if mode.refused else "")


def init_ipv6_warning(sources: Sequence[tuple[str, Mapping[str, str | None]]]) -> str | None:
    """A warning when some source's aws-node container sets IPv6 mode (one ipamd accepts) while the init container
    aws-vpc-cni-init beside it does not set ENABLE_IPv6 to a value GetBoolAsStringEnvVar reads as true (unset, false,
    or a value ParseBool refuses): naming the first such source and counting the others.  No claim when the init
    container is not in the input or takes its value from a ConfigMap or Secret (valueFrom)."""
    lacking: list[tuple[CniMode, str]] = []
    for where, env in sources:
        mode = cni_mode(env, where)
        if mode is None or not mode.ipv6 or mode.refused is not None or INIT not in env:
            continue
        value = env.get(INIT_IPV6, "")
        if value is not None and parse_bool(value) is not True:
            lacking.append((mode, "ENABLE_IPv6 not set" if INIT_IPV6 not in env else f"ENABLE_IPv6={_value(value)}"))
    if not lacking:
        return None
    (mode, said), more = lacking[0], len(lacking) - 1
    others = f" (and so {'does' if more == 1 else 'do'} {more} other aws-node source{'' if more == 1 else 's'})"
    return (f"{SETTINGS} for IPv6 are incomplete: {mode.where} sets IPv6 mode, but its init container {INIT} has "
            f"{said}{others if more else ''}: that container turns net.ipv6.conf.all.forwarding on only when its own "
            "ENABLE_IPv6 is true (amazon-vpc-cni-k8s cmd/aws-vpc-cni-init/main.go configureIPv6Settings; the "
            "README sets it on both containers), so the node forwards no IPv6 packet to or from its pods unless its "
            "OS, or an earlier aws-node pod's init container, turned forwarding on")  # fmt: skip


def no_init_ipv6_warning(sources: Sequence[tuple[str, Mapping[str, str | None]]]) -> str | None:
    """A warning when some source's aws-node container sets IPv6 mode (one ipamd accepts) in a pod (or template) that
    lists no init container at all (``NO_INIT``): nothing then turns the node's IPv6 forwarding on (the module's
    docstring), naming the first such source and counting the others."""
    lacking = [m for m in (cni_mode(env, where) for where, env in sources if NO_INIT in env)
               if m is not None and m.ipv6 and m.refused is None]  # fmt: skip
    if not lacking:
        return None
    more = len(lacking) - 1
    others = f" (and so {'does' if more == 1 else 'do'} {more} other aws-node source{'' if more == 1 else 's'})"
    return (f"{SETTINGS} for IPv6 are incomplete: {lacking[0].where} sets IPv6 mode, but its pod has no init "
            f"container{others if more else ''}: {INIT}, which every manifest of the CNI runs beside it, is what turns "
            "net.ipv6.conf.all.forwarding on in IPv6 mode (amazon-vpc-cni-k8s cmd/aws-vpc-cni-init/main.go "
            "configureIPv6Settings; ipamd and the CNI plugins do not), so the node forwards no IPv6 packet to or from "
            "its pods unless its OS, or an earlier aws-node pod's init container, turned forwarding on")  # fmt: skip
