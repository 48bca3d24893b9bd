"""What an NLB's target groups and listeners are for a Service's ports, and what its attributes say about client
IP preservation and cross-zone load balancing: the same reading for both controllers, but for the AWS Load
Balancer Controller's TCP_UDP listeners.  ``hairpin.aws.controller`` decides which controller and which load
balancer, then asks this module; it re-exports the public names here.

- ``target_groups``: one target group per Service port; UDP, TCP_UDP and QUIC ones always preserve the client IP,
  TCP and TLS ones follow ``preserve_client_ip.enabled``, else the target type's default (on for instance, off for
  ip) ("Target groups for your Network Load Balancers", Client IP preservation).
- ``lbc_listeners``: a TCP and a UDP Service port of one number share a TCP_UDP listener only when the LBC is told
  so (``pkg/service/model_build_listener.go``).
- ``cross_zone`` and ``client_ip_preserved``: the Service-wide answers, each with the step that says which
  annotation (or which default) decided it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from hairpin.aws.lbc_attributes import LB_ATTRIBUTES, TG_ATTRIBUTES
from hairpin.aws.lbc_flags import LbcFlags, parse_bool

__all__ = [
    "ALWAYS_PRESERVED",
    "CROSS_ZONE",
    "TCP_UDP_LISTENER",
    "TargetGroup",
    "client_ip_preserved",
    "cross_zone",
    "lbc_listeners",
    "target_groups",
]  # fmt: skip

#: the annotations read here (``hairpin.aws.controller`` names the others)
CROSS_ZONE = "service.beta.kubernetes.io/aws-load-balancer-cross-zone-load-balancing-enabled"
TCP_UDP_LISTENER = "service.beta.kubernetes.io/aws-load-balancer-enable-tcp-udp-listener"
#: the first release that reads TCP_UDP_LISTENER (and has the feature gate EnableTCPUDPListener)
TCP_UDP_FROM = (2, 13, 0)


@dataclass(frozen=True)
class TargetGroup:
    """One target group (one per Service port): its protocol and client IP preservation."""

    port: int | None  # the Service port
    protocol: str  # TCP | UDP | TCP_UDP | TLS ...
    preserve_client_ip: bool
    why: str

    @property
    def label(self) -> str:
        return f"{self.port if self.port is not None else '?'}/{self.protocol}"


#: target group protocols whose client IP preservation is always on and cannot be turned off ("Edit target
#: group attributes for your Network Load Balancer", Client IP preservation; the LBC says the same in
#: pkg/service/model_build_target_group.go)
ALWAYS_PRESERVED = frozenset({"UDP", "TCP_UDP", "QUIC", "TCP_QUIC"})


def target_groups(target_type: str, tg_attrs: Mapping[str, str], ports: Sequence[tuple[int | None, str]], *,
                  merge_tcp_udp: bool, per_port: Mapping[int, Mapping[str, str]] | None = None,
                  ) -> tuple[TargetGroup, ...]:  # fmt: skip
    """One target group per Service port and its client IP preservation.

    UDP (and TCP_UDP, QUIC) target groups always preserve; TCP/TLS ones follow
    ``preserve_client_ip.enabled``, else the default for the target type (on for instance, off for ip).
    ``merge_tcp_udp``: the LBC makes one TCP_UDP listener and target group for a port number that has
    both a TCP and a UDP Service port (``pkg/service/model_build_listener.go``, tcpUdpPortsSet).  ``per_port``: the
    attributes of a port whose own annotation changes them (``hairpin.aws.lbc_attributes.port_maps``).
    """
    key = "preserve_client_ip.enabled"
    by_number: dict[int | None, set[str]] = {}
    for number, proto in ports:
        by_number.setdefault(number, set()).add(proto.upper())
    out: list[TargetGroup] = []
    for number, raw in ports:
        own = (per_port or {}).get(number) if number is not None else None
        attrs, where = (own, f"{TG_ATTRIBUTES}.{number}") if own is not None else (tg_attrs, TG_ATTRIBUTES)
        explicit = parse_bool(attrs.get(key, ""))
        proto = raw.upper()
        if merge_tcp_udp and number is not None and {"TCP", "UDP"} <= by_number[number]:
            proto = "TCP_UDP"
        if proto in ALWAYS_PRESERVED:
            tg = TargetGroup(number, proto, True, f"client IP preservation always on for {proto} target groups")
        elif explicit is not None:
            tg = TargetGroup(number, proto, explicit, f"client IP preservation {'on' if explicit else 'off'} "
                             f"({where}: {key}={attrs[key]})")  # fmt: skip
        elif target_type == "instance":
            tg = TargetGroup(number, proto, True, "client IP preservation on (the default for instance targets)")
        else:
            tg = TargetGroup(
                number, proto, False, f"client IP preservation off (the default for ip targets with {proto})"
            )
        out.append(tg)
    return tuple(out)


def lbc_listeners(a: Mapping[str, str], flags: LbcFlags, ports: Sequence[tuple[int | None, str]], steps: list[str],
                  problems: list[str]) -> tuple[bool, list[tuple[int | None, str]]]:  # fmt: skip
    """(TCP_UDP listeners on, the Service ports that get a listener) for a Service with a TCP and a UDP port
    of one number (``pkg/service/model_build_listener.go``, v2.13.0 to v3.5.0): one TCP_UDP listener when
    ``aws-load-balancer-enable-tcp-udp-listener`` is true, else (absent or not a bool) when the feature gate
    EnableTCPUDPListener is on (default off); otherwise one listener per port number, the first Service
    port's: the later port's listener has the same resource id and is not added to the model (and releases
    before v2.13.0 only had that path)."""
    protos: dict[int, set[str]] = {}
    for number, proto in ports:
        if number is not None:
            protos.setdefault(number, set()).add(proto.upper())
    shared = sorted(n for n, ps in protos.items() if {"TCP", "UDP"} <= ps)
    if not shared:
        return False, list(ports)
    nums = ", ".join(str(n) for n in shared)
    ann = parse_bool(a.get(TCP_UDP_LISTENER, ""))
    if ann is not None and flags.version is not None and flags.version < TCP_UDP_FROM:
        # pkg/annotations/constants.go has the annotation from v2.13.0; v2.12.0's buildListeners knows no TCP_UDP
        steps.append(f"{TCP_UDP_LISTENER} not honoured: the AWS Load Balancer Controller's {flags.release_is}, and "
                     f"the annotation came in v2.13.0 ({flags.source})")  # fmt: skip
        ann = None
    if ann is not None:
        on, why = ann, f"{TCP_UDP_LISTENER}: {a[TCP_UDP_LISTENER]!r}"
    else:
        on = flags.gate("EnableTCPUDPListener", False)
        why = (f"feature gate EnableTCPUDPListener={'true' if on else 'false'} ({flags.source})"
               if "EnableTCPUDPListener" in dict(flags.feature_gates) else
               f"no {TCP_UDP_LISTENER}, feature gate EnableTCPUDPListener off by default")  # fmt: skip
    if on:
        steps.append(f"TCP and UDP on port {nums}: one TCP_UDP listener and target group ({why})")
        return True, list(ports)
    kept: list[tuple[int | None, str]] = []
    seen: set[int] = set()
    dropped: list[str] = []
    for number, proto in ports:
        if number is not None and number in shared and number in seen:
            dropped.append(f"{number}/{proto.upper()}")
            continue
        if number is not None:
            seen.add(number)
        kept.append((number, proto))
    steps.append(
        f"TCP and UDP on port {nums} without TCP_UDP listeners ({why}): the AWS Load Balancer Controller builds one "
        f"listener per port number, the first Service port's; {', '.join(dropped)} gets none"
    )
    problems.append(f"Service port {', '.join(dropped)} is not served by the NLB: a TCP and a UDP port of one number "
                    f"need {TCP_UDP_LISTENER}: \"true\" (AWS Load Balancer Controller v2.13.0 or later)")  # fmt: skip
    return False, kept


def cross_zone(a: Mapping[str, str], tg: Mapping[str, str], lb: Mapping[str, str], steps: list[str],
               problems: list[str], *, lbc: bool) -> bool:  # fmt: skip
    key = "load_balancing.cross_zone.enabled"
    tg_value = tg.get(key)
    if tg_value is not None and tg_value != "use_load_balancer_configuration":
        b = parse_bool(tg_value)
        if b is not None:
            steps.append(f"cross-zone {'on' if b else 'off'} (target group attribute {key}={tg_value})")
            return b
        problems.append(f"{TG_ATTRIBUTES}: {key}={tg_value!r} is not a boolean")
    legacy = a.get(CROSS_ZONE)
    if legacy is not None:
        b = parse_bool(legacy)
        if b is not None:
            steps.append(f"cross-zone {'on' if b else 'off'} ({CROSS_ZONE}: {legacy!r})")
            return b
        problems.append(f"{CROSS_ZONE}: {legacy!r} is not a boolean")
    if lbc and key in lb:
        b = parse_bool(lb[key])
        if b is not None:
            steps.append(f"cross-zone {'on' if b else 'off'} ({LB_ATTRIBUTES}: {key}={lb[key]})")
            return b
        problems.append(f"{LB_ATTRIBUTES}: {key}={lb[key]!r} is not a boolean")
    steps.append("cross-zone off (the NLB default)")
    return False


def client_ip_preserved(target_type: str, tg: Mapping[str, str], protocols: Sequence[str], steps: list[str],
                        problems: list[str]) -> bool:  # fmt: skip
    key = "preserve_client_ip.enabled"
    udp = any(p.upper() in ("UDP", "TCP_UDP") for p in protocols)
    if key in tg:
        b = parse_bool(tg[key])
        if b is not None:
            if not b and udp:
                problems.append(f"{key}=false: client IP preservation cannot be turned off for UDP target groups")
                steps.append(f"client IP preservation on (UDP port; {key}=false is refused by AWS)")
                return True
            steps.append(f"client IP preservation {'on' if b else 'off'} ({TG_ATTRIBUTES}: {key}={tg[key]})")
            return b
        problems.append(f"{TG_ATTRIBUTES}: {key}={tg[key]!r} is not a boolean")
    if target_type == "instance":
        steps.append("client IP preservation on (the default for instance targets)")
        return True
    if udp:
        steps.append("client IP preservation on (the default for ip targets with UDP)")
        return True
    steps.append("client IP preservation off (the default for ip targets with TCP)")
    return False
