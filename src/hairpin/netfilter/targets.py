"""The non-terminating targets that change a packet or its connection: MARK, CONNMARK, TPROXY, NOTRACK.

Each is compiled into an action on the evaluator's ``Context`` that returns what it did, in words.  Semantics
are the kernel's (net/netfilter/xt_MARK.c, xt_connmark.c, xt_TPROXY.c, xt_CT.c).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from hairpin.netfilter.matches import Unknown, has_ct, mark
from hairpin.netfilter.rules import Target

if TYPE_CHECKING:
    from hairpin.netfilter.evaluate import Context

__all__ = ["mark_action", "notrack", "reject_reply", "reject_reply6", "tproxy"]


def tproxy(t: Target) -> Callable[[Context], str]:
    """TPROXY (xt_TPROXY.c): with a transparent socket on --on-ip:--on-port, mark the packet and accept it."""
    tm = t.get("--tproxy-mark")
    v, m = mark(tm.value) if tm is not None else (0, 0)
    port = t.get("--on-port")
    ip = t.get("--on-ip")

    def tproxy(c: Context) -> str:
        c.mark = ((c.mark & ~m) ^ v) & 0xFFFFFFFF
        where = f"{ip.value if ip else '0.0.0.0'}:{port.value if port else '?'}"
        return f"TPROXY to {where} (assumes a transparent socket listens there), mark={c.mark:#x}"

    return tproxy


def notrack(c: Context) -> str:
    c.untracked = True
    return "NOTRACK"


def mark_action(t: Target) -> Callable[[Context], str]:
    full = 0xFFFFFFFF
    opts = {o.name: o.value for o in t.options}
    if t.name == "MARK":
        if "--set-xmark" in opts or "--set-mark" in opts:
            xmark = "--set-xmark" in opts
            v, m = mark(opts.get("--set-xmark") or opts["--set-mark"])

            def set_mark(c: Context) -> str:
                c.mark = ((c.mark & ~m) ^ v) & full if xmark else ((c.mark & ~m) | v) & full
                return f"mark={c.mark:#x}"

            return set_mark
        for key, op in (("--or-mark", "or"), ("--and-mark", "and"), ("--xor-mark", "xor")):
            if key in opts:
                val = int(opts[key], 0)

                def bit_mark(c: Context, op: str = op, val: int = val) -> str:
                    c.mark = {"or": c.mark | val, "and": c.mark & val, "xor": c.mark ^ val}[op] & full
                    return f"mark={c.mark:#x}"

                return bit_mark
    else:
        return _connmark_action(t, opts)
    raise Unknown(f"-j {t.name} {' '.join(opts)}")


def _connmark_action(t: Target, opts: dict[str, str]) -> Callable[[Context], str]:
    """CONNMARK: xt_connmark.c ``connmark_tg_shift`` does nothing to a packet without a conntrack entry (the
    raw table, an INVALID packet): it returns XT_CONTINUE before any mode."""
    action = _connmark_modes(t, opts)

    def connmark(c: Context) -> str:
        if not has_ct(c):
            return f"no conntrack entry ({c.ctstate}): CONNMARK does nothing"
        return action(c)

    return connmark


def _connmark_modes(t: Target, opts: dict[str, str]) -> Callable[[Context], str]:
    full = 0xFFFFFFFF
    nfmask = int(opts.get("--nfmask", opts.get("--mask", "0xffffffff")), 0)
    ctmask = int(opts.get("--ctmask", opts.get("--mask", "0xffffffff")), 0)
    if "--set-xmark" in opts or "--set-mark" in opts:
        xmark = "--set-xmark" in opts
        v, m = mark(opts.get("--set-xmark") or opts["--set-mark"])

        def set_ct(c: Context) -> str:
            c.ctmark = ((c.ctmark & ~m) ^ v) & full if xmark else ((c.ctmark & ~m) | v) & full
            return f"ctmark={c.ctmark:#x}"

        return set_ct
    if "--restore-mark" in opts:

        def restore(c: Context) -> str:
            c.mark = ((c.mark & ~nfmask) ^ (c.ctmark & ctmask)) & full
            return f"mark={c.mark:#x} (restored from ctmark)"

        return restore
    if "--save-mark" in opts:

        def save(c: Context) -> str:
            c.ctmark = ((c.ctmark & ~ctmask) ^ (c.mark & nfmask)) & full
            return f"ctmark={c.ctmark:#x} (saved from mark)"

        return save
    raise Unknown(f"-j {t.name} {' '.join(opts)}")


#: ICMPv6 destination unreachable (type 1) codes of ip6tables' REJECT (net/ipv6/netfilter/ip6t_REJECT.c
#: reject_tg6, RFC 4443 3.1), by the name ip6tables-save prints
_ICMP6_CODES = {"icmp6-no-route": (0, "no route to destination"), "icmp6-adm-prohibited": (1, "administratively "
                "prohibited"), "icmp6-addr-unreachable": (3, "address unreachable"), "icmp6-port-unreachable": (4,
                "port unreachable"), "icmp6-policy-fail": (5, "source address failed ingress/egress policy"),
                "icmp6-reject-route": (6, "reject route to destination")}  # fmt: skip


def reject_reply6(t: Target | str | None) -> tuple[str, int | None, str]:
    """What ip6tables' REJECT (the target, or its ``--reject-with`` value; None: the default) sends back
    (ip6t_REJECT.c ``reject_tg6``): ("tcp-reset", None, "TCP RST") for ``--reject-with tcp-reset``
    (nf_send_reset6), else ("icmp6", code, words) of an ICMPv6 destination unreachable (nf_send_unreach6); the
    default is icmp6-port-unreachable (libip6t_REJECT.c)."""
    from hairpin.parsers.ip6tables import REJECT_WITH

    if isinstance(t, Target):
        o = t.get("--reject-with")
        t = o.value if o is not None else None
    name = REJECT_WITH.get(t if t is not None else "icmp6-port-unreachable", (None, None))[0]
    if name is None:
        raise Unknown("-j REJECT", f"--reject-with {t} is not one of ip6tables' REJECT types")
    if name == "tcp-reset":
        return "tcp-reset", None, "TCP RST"
    code, words = _ICMP6_CODES[name]
    return "icmp6", code, f"ICMPv6 destination unreachable (type 1) code {code}, {words} ({name})"


#: ICMP destination unreachable (type 3) codes of iptables' REJECT (net/ipv4/netfilter/ipt_REJECT.c reject_tg,
#: RFC 792 and RFC 1812 5.2.7.1), by the name iptables-save prints
_ICMP_CODES = {"icmp-net-unreachable": (0, "net unreachable"), "icmp-host-unreachable": (1, "host unreachable"),
               "icmp-proto-unreachable": (2, "protocol unreachable"), "icmp-port-unreachable": (3, "port "
               "unreachable"), "icmp-net-prohibited": (9, "net prohibited"), "icmp-host-prohibited": (10, "host "
               "prohibited"), "icmp-admin-prohibited": (13, "administratively prohibited")}  # fmt: skip


def reject_reply(t: Target | str | None, v6: bool = False) -> str:
    """In words, what a REJECT (an iptables target, its ``--reject-with`` value, or None: the default; an nft
    ``reject`` has none) sends back: a TCP RST for ``tcp-reset`` (nf_send_reset), else an ICMP destination
    unreachable (nf_send_unreach), port unreachable by default (libipt_REJECT.c; nft's ``reject`` in an ip or ip6
    table, nft(8) "REJECT STATEMENT"); ICMPv6 for IPv6 (``reject_reply6``)."""
    if v6:
        kind, code, _ = reject_reply6(t)
        return "TCP RST" if kind == "tcp-reset" else f"ICMPv6 {next(w for c, w in _ICMP6_CODES.values() if c == code)}"
    if isinstance(t, Target):
        o = t.get("--reject-with")
        t = o.value if o is not None else None
    name = t if t is not None else "icmp-port-unreachable"
    if name == "tcp-reset":
        return "TCP RST"
    if name not in _ICMP_CODES:
        raise Unknown("-j REJECT", f"--reject-with {name} is not one of iptables' REJECT types")
    return f"ICMP {_ICMP_CODES[name][1]}"
