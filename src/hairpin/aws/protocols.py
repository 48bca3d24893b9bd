"""Target group protocols whose client IP preservation cannot be turned off.

AWS, "Target groups for your Network Load Balancers", Client IP preservation: for UDP, TCP_UDP, QUIC and
TCP_QUIC target groups client IP preservation is on and cannot be disabled, whatever the target type
(https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-target-groups.html#client-ip-preservation).
The AWS Load Balancer Controller models the same (``pkg/service/model_build_target_group.go``; its
Gateway path, ``getPreserveClientIP`` in ``model_build_target_group_binding_network.go``, treats
UDP/TCP_UDP/QUIC/TCP_QUIC as always preserved); it does not refuse ``preserve_client_ip.enabled=false``
for them, AWS does, and the controller's reconcile then fails.  The cloud provider refuses the value on
UDP ports (cloud-provider-aws ``aws_validations.go``).

A Service port of protocol TCP and one of UDP with the same port number share one TCP_UDP listener and
target group when the controller merges them (the AWS Load Balancer Controller: with
``aws-load-balancer-enable-tcp-udp-listener`` or its feature gate EnableTCPUDPListener, see
``hairpin.aws.controller``; ``target_group_protocols`` assumes the merge).  So a fix that turns preservation off is never proposed for a
load balancer with any such target group: the annotation applies to every target group of the Service.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from hairpin.aws import controller as ctl

__all__ = ["ALWAYS_PRESERVED", "always_preserved", "target_group_protocols"]

ALWAYS_PRESERVED = ctl.ALWAYS_PRESERVED  # UDP, TCP_UDP, QUIC, TCP_QUIC


def target_group_protocols(ports: Iterable[dict[str, Any]]) -> list[tuple[int, str]]:
    """(port, target group protocol) per listener: TCP and UDP on one port number become TCP_UDP."""
    by_port: dict[int, set[str]] = {}
    for p in ports:
        port = p.get("port")
        if not isinstance(port, int):
            continue
        by_port.setdefault(port, set()).add(str(p.get("protocol") or "TCP").upper())
    out = []
    for port, protos in sorted(by_port.items()):
        if {"TCP", "UDP"} <= protos:
            out.append((port, "TCP_UDP"))
        else:
            out.extend((port, proto) for proto in sorted(protos))
    return out


def always_preserved(protocols: Sequence[str]) -> str | None:
    """Why preservation is forced on for some target group of these protocols, or None."""
    found = sorted({p.upper() for p in protocols} & ALWAYS_PRESERVED)
    if not found:
        return None
    return (
        f"{'/'.join(found)} target group: client IP preservation is always on for UDP, TCP_UDP, QUIC and TCP_QUIC "
        "target groups and cannot be turned off (AWS, Target groups for your Network Load Balancers)"
    )
