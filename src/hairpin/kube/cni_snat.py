"""The AWS VPC CNI's SNAT settings, from the aws-node sources ``hairpin.kube.cni_mode`` reads, and what
``hairpin scenario from-cluster`` writes of them.

Facts (aws/amazon-vpc-cni-k8s ``pkg/networkutils/network.go``, read at v1.23.0, commit b5218838, and at v1.7.0 and
v1.7.10, which read these variables the same way except where said):

- ``AWS_VPC_K8S_CNI_EXTERNALSNAT`` (``useExternalSNAT``: ``getBoolEnvVar(envExternalSNAT, false)``): unset or empty
  is false; otherwise Go's strconv.ParseBool, and a value it refuses is logged ("Failed to parse ...; using
  default: false") and taken as false.  When true the SNAT rules are not written (``shouldExist:
  !n.useExternalSNAT``), the connection-mark rules are removed (``UpdateHostSNATRules``: ``connmark.Cleanup``) and
  ``GetExcludeSNATCIDRs`` gives nothing; the scenario key ``cni.external_snat`` models exactly that
  (``hairpin.kube.cni``).
- ``AWS_VPC_K8S_CNI_RANDOMIZESNAT`` (``typeOfSNAT``, ``hairpin.kube.cni_mode.snat_type``): the flag of the SNAT rule,
  prng ``--random-fully`` (the default, and what a value it does not know gives), hashrandom ``--random``, none
  no flag.  It picks the port the node's address leaves with; the scenario has no key for it: hairpin writes
  ``--random-fully``.  (``cmd/aws-vpc-cni/main.go`` also copies the raw value into the egress plugin's
  configuration, used in IPv6 mode for pods' IPv4 traffic: not modelled.)
- ``AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS`` (``parseCIDRString``, ``hairpin.kube.cni_mode.exclude_snat_cidrs``): each
  IPv4 CIDR is a RETURN rule before the SNAT rule (``buildIptablesSNATRules``, comment "AWS SNAT CHAIN
  EXCLUSION"; 0.0.0.0/0 without ``-d``) and in the connection-mark chain (``connmark.Setup(append(vpcCIDRs,
  n.excludeSNATCIDRs...))``): pods' traffic to those destinations keeps the pod's address.  The scenario has no
  key for it (one VPC CIDR is excluded): ``scenario from-cluster`` says so in a note rather than drop it unsaid.

ipamd reads them once, when its container starts (``networkutils.New``), so each node runs with its own aws-node
pod's; sources that differ are warned about by ``hairpin.kube.cni_mode.cni_settings``, and the scenario then takes
the CNI's defaults, saying so.

Why no verdict of ``hairpin check`` depends on them (``hairpin.diagnose.check`` says the same where it decides):

- An internal NLB, the only kind at risk, has its addresses in the VPC.  AWS-SNAT-CHAIN RETURNs every destination
  in the VPC's CIDRs before its SNAT rule, so a pod's packet to the NLB leaves with the pod's own address whatever
  these settings say: external SNAT removes a rule that does not match, an exclusion adds a RETURN for addresses
  already returned, and the randomisation picks the port of a translation that does not happen.  ("When a Pod
  communicates to any IPv4 address that isn't within a CIDR block that's associated to your VPC, the Amazon VPC
  CNI plugin ... translates the Pod's IPv4 address", "Enable outbound internet access for Pods", Amazon EKS User
  Guide.)
- An internet-facing NLB is reached from private subnets through the NAT gateway, which replaces the source it
  gets (the node's address by default, the pod's with external SNAT or an exclusion) by its Elastic IP, so the NLB
  never sees the caller's address and cannot hairpin it (``hairpin.aws.vpc``; ``hairpin reproduce`` of
  examples/internet-facing.yaml succeeds on every connection with ``cni.external_snat`` true or false).
- Not modelled: nodes in public subnets, whose traffic leaves through an internet gateway instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from hairpin.aws.lbc_flags import parse_bool
from hairpin.kube.cni_mode import (
    EXCLUDE_SNAT,
    EXTERNAL_SNAT,
    RANDOMIZE_SNAT,
    SETTINGS,
    SNAT_TYPES,
    differing,
    exclude_snat_cidrs,
    reading,
    snat_type,
)
from hairpin.text import shown

__all__ = ["Snat", "scenario_external_snat", "snat_settings"]

Source = tuple[str, Mapping[str, str | None]]


@dataclass(frozen=True)
class Snat:
    """The SNAT settings of the aws-node sources: the first source (pods before the template, as
    ``cni_settings`` orders them) and the variables of it some other source reads differently."""

    where: str
    env: Mapping[str, str | None]
    differ: frozenset[str]


def snat_settings(pods: Sequence[Source], template: Source | None = None) -> Snat | None:
    """The SNAT settings from the aws-node pods, and the DaemonSet's template (only compared when there are pods,
    standing in for them when there are none); None when the input holds neither."""
    sources = [*pods, *([template] if template is not None else [])]
    if not sources:
        return None
    return Snat(sources[0][0], sources[0][1], frozenset(n for n in differing(sources) if n in
                                                        (EXTERNAL_SNAT, RANDOMIZE_SNAT, EXCLUDE_SNAT)))  # fmt: skip


def _said(env: Mapping[str, str | None], name: str) -> str:
    value = env.get(name)
    return f"{name}={shown(value)}" if value is not None else f"{name} from a ConfigMap or Secret (valueFrom)"


def scenario_external_snat(snat: Snat | None, not_modelled: str) -> tuple[bool, list[str]]:
    """``cni.external_snat`` for a scenario built from the cluster, and the notes that say where it comes from and
    what the scenario leaves out (``not_modelled``: how such a note begins).  No aws-node source: the default,
    false, without a note (the scenario's cni block is the DaemonSet's defaults, as for a hand-written one)."""
    if snat is None:
        return False, []
    notes: list[str] = []
    env, where = snat.env, snat.where
    external = False
    if EXTERNAL_SNAT in snat.differ:
        notes.append(f"{SETTINGS}: the aws-node sources differ on {EXTERNAL_SNAT}: cni.external_snat: false, the CNI's default, written; no verdict depends on it")  # fmt: skip
    elif env.get(EXTERNAL_SNAT, "") is None:
        notes.append(f"{SETTINGS}: {_said(env, EXTERNAL_SNAT)} on {where}, not in the input: cni.external_snat: "
                     "false, the CNI's default, written; no verdict depends on it")  # fmt: skip
    elif EXTERNAL_SNAT in env:
        external = reading(env, EXTERNAL_SNAT) is True
        value = env[EXTERNAL_SNAT] or ""
        bad = value != "" and parse_bool(value) is None
        notes.append(f"cni.external_snat: {str(external).lower()} from {_said(env, EXTERNAL_SNAT)} on {where}"
                     + (" (not a value Go's strconv.ParseBool takes: the CNI logs it and uses its default, false)"
                        if bad else ""))  # fmt: skip
    if external:
        return True, notes  # no SNAT rule: the randomisation and the exclusions act on nothing
    notes.extend(_randomize(snat))
    notes.extend(_exclude(snat, not_modelled))
    return False, notes


def _randomize(snat: Snat) -> list[str]:
    env, where = snat.env, snat.where
    if RANDOMIZE_SNAT in snat.differ:
        return [f"{SETTINGS}: the aws-node sources differ on {RANDOMIZE_SNAT}: the scenario's SNAT rule takes "
                "--random-fully, the default"]  # fmt: skip
    if RANDOMIZE_SNAT not in env:
        return []
    value = env[RANDOMIZE_SNAT]
    kind = snat_type(value)
    if kind is None:
        return [f"{SETTINGS}: {_said(env, RANDOMIZE_SNAT)} on {where}, not in the input: the scenario's SNAT rule "
                "takes --random-fully, the default"]  # fmt: skip
    bad = "" if value in SNAT_TYPES or value == "" else (" (not prng, hashrandom or none: the CNI logs it and uses "
                                                         "its default, prng)")  # fmt: skip
    if kind == "prng":
        return [f"{_said(env, RANDOMIZE_SNAT)} on {where}: SNAT --random-fully{bad}"] if bad else []
    return [f"{_said(env, RANDOMIZE_SNAT)} on {where} gives the CNI's SNAT rule {SNAT_TYPES[kind]}; the scenario "
            "has no key for it and writes --random-fully: the port the node's address leaves with differs, no verdict "
            "depends on it"]  # fmt: skip


def _exclude(snat: Snat, not_modelled: str) -> list[str]:
    env, where = snat.env, snat.where
    if EXCLUDE_SNAT in snat.differ:
        return [f"{not_modelled} the aws-node sources differ on {EXCLUDE_SNAT}; the scenario has no key for it: its "
                "pods' traffic leaving the VPC is SNATed to the node's address"]  # fmt: skip
    if EXCLUDE_SNAT not in env:
        return []
    got = exclude_snat_cidrs(env[EXCLUDE_SNAT])
    if got is None:
        return [f"{not_modelled} {_said(env, EXCLUDE_SNAT)} on {where} (or an IPv4-mapped entry hairpin does not read):"
                " the scenario has no key for it: its pods' traffic leaving the VPC is SNATed to the node's address"]  # fmt: skip
    taken, skipped = got
    out = []
    if taken:
        out.append(f"{not_modelled} {EXCLUDE_SNAT} on {where}: the CNI does not SNAT pods' traffic to "
                   f"{', '.join(taken)}; the scenario has no key for it: its pods' traffic to those outside "
                   "the VPC is SNATed to the node's address, which changes no verdict")  # fmt: skip
    if skipped:
        out.append(f"{EXCLUDE_SNAT} on {where}: the CNI skips {', '.join(shown(s) for s in skipped)} (not an IPv4 "
                   "CIDR; pkg/networkutils/network.go parseCIDRString)")  # fmt: skip
    return out
