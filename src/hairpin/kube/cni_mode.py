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
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["ENV", "CniMode", "cni_mode"]

#: the aws-node container's variables read here
ENV = ("ENABLE_IPv6", "ENABLE_IPv4", "ENABLE_PREFIX_DELEGATION", "AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG")

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
