"""The AWS cloud provider's NLB security groups in ``hairpin check``: what the verdict cannot say about them.

``hairpin.aws.cloud_config`` decides from the cloud config whether the provider puts a security group on its NLBs
(``[Global] NLBSecurityGroupMode = Managed``, cloud-provider-aws v1.35.0 and later) and ``hairpin.diagnose.reach``
judges the callers with it.  Two cases are left to warnings, not verdicts, because the answer differs and the
input does not decide it (only ports with client IP preservation off differ: with it on, the targets' own rules
take the same source ranges and drop the same callers):

- the mode is unknown (no cloud config in the input, or one the provider refuses): without a security group the
  targets see the NLB's address and admit the callers outside the source ranges; with one, the NLB drops them;
- the mode is Managed and the Service already has its NLB: the provider gives a group only to an NLB it creates
  while the mode is on, so an NLB created before has none (cloud-provider-aws ``docs/nlb_security_groups.md``).
"""

from __future__ import annotations

import dataclasses

from hairpin.aws import controller as ctl
from hairpin.aws.cloud_config import BYO, KEY, MANAGED, SgMode
from hairpin.diagnose import reach
from hairpin.kube.cluster import Cluster, KService

__all__ = ["warnings"]


def warnings(cluster: Cluster, svc: KService, s: ctl.Settings, b: reach.Blocked | None, mode: SgMode,
             given: tuple[tuple[str, ...], str, str] | None = None) -> list[str]:  # fmt: skip
    """The warnings for an in-tree internal NLB whose verdict on out-of-range callers depends on what the input
    does not say; ``b``: the callers its security groups drop as judged (``reach.assess``)."""
    if s.controller != ctl.IN_TREE or not s.is_nlb or s.scheme != "internal":
        return []
    off = [tg.label for tg in s.target_groups if not tg.preserve_client_ip]
    if not off:
        return []
    ports = ", ".join(off)
    if mode.managed is None and not s.security_groups and BYO not in svc.annotations:
        other = reach.assess(cluster, svc, dataclasses.replace(s, security_groups=True), given=given)
        if other is None or not other.callers:
            return []
        why = (f"{KEY} = {mode.invalid} is refused by the provider (see problems)" if mode.invalid is not None else
               f"{KEY} unknown (no cloud config in the input: give --cloud-config FILE, or a dump with the "
               "cloud-controller-manager's config ConfigMap)")  # fmt: skip
        return [f"{why}: the answer differs for {len(other.callers)} in-cluster caller pod(s) outside the source "
                f"ranges (e.g. {other.callers[0]} on node {other.node}) on port(s) {ports}, where client IP "
                f"preservation is off.  {KEY} not set (the default): the NLB has no security group and the targets "
                f"see the NLB's address, so they are admitted.  {KEY} = {MANAGED} (cloud-provider-aws v1.35.0 and "
                "later): the NLB's own security group admits only the source ranges and drops every SYN they send "
                "(P = 1)"]  # fmt: skip
    if mode.managed and s.security_groups and b is not None and b.callers and b.where == "nlb" and svc.ingress:
        lb = next((h or ip for ip, h, _ in svc.ingress if h or ip), "")
        return [f"the cloud provider puts its security group only on an NLB it creates while {KEY} = {MANAGED} is "
                f"set (an NLB created without security groups cannot be given any: cloud-provider-aws "
                f"docs/nlb_security_groups.md); if this Service's NLB ({lb}) was created before, it has none, and on "
                f"port(s) {ports} (client IP preservation off) its targets see the NLB's address: the "
                f"{len(b.callers)} caller pod(s) named above are then admitted there"]  # fmt: skip
    return []
