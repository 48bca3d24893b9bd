"""The tracer: what a real node does with one packet, every path it can take, and its reply.

A node is its own state as its tools print it, in any of the forms people paste (``Node.load``; forms told
by content in ``hairpin.parsers.forms``, cross-checked in ``hairpin.parsers.node``): ``iptables-save`` or
``iptables -S``, ``ip route``/``ip rule``/``ip addr`` (plain, ``-o``, coloured, JSON) or ``route -n``, and
optionally ``nft list ruleset`` (kube-proxy's nftables mode), ``ipset save``, ``ipvsadm -Sn``, ``ss -ltnu``
and ``conntrack -L``.  The tracer builds the simulator's own ``LinuxHost`` from it (one netfilter, conntrack
and routing model for every face of hairpin) and sends the packet through it.

Random choices are not sampled.  Each time a rule asks for one (``-m statistic --mode random``: how
kube-proxy picks an endpoint), the tracer explores both answers, depth first, with a fresh conntrack
table per path, so the result lists every outcome with its exact probability: the kernel keeps the
probability as ``lround(p * 2^31)`` and matches when ``prandom_u32() & 0x7FFFFFFF`` is below it
(net/netfilter/xt_statistic.c, iptables extensions/libxt_statistic.c), so an outcome's probability is a
product of ``N / 2^31`` terms, given as an exact fraction.

``reply=True`` follows what the node really sends back, through the same host (conntrack de-NATs it):
a SYN forwarded out ``IFACE`` is answered by the backend with a SYN-ACK arriving on ``IFACE`` (a UDP
datagram by a UDP reply); a SYN delivered locally is answered with a SYN-ACK when a socket listens on its
port and with an RST when none does (tcp_v4_send_reset; a UDP datagram to a closed port draws ICMP port
unreachable, which is named but not traced), as the node's ``ss -ltnu`` output (``Node.listening``)
says; without it the listener is assumed and a warning says so.  A REJECT rule answers for the node: an
RST with ``--reject-with tcp-reset``, else ICMP (net/ipv4/netfilter/ipt_REJECT.c).  When the reply
leaves by another interface than the request came in on, the outcome is flagged as an asymmetric
return: with client IP preservation that is the seed's failure (the client gets a SYN-ACK from
``node:NodePort`` instead of the address it called, and resets it).

Before any trace, the rule file is checked as iptables-restore and the kernel would
(``hairpin.parsers.iptables_check``), and the packet against the node: ``in IFACE`` must name an
interface the node has, and a packet sent by the node (``out``) must have one of its addresses as source.

A rule the model cannot decide (an unknown match or target) is decided conservatively (it does not match)
and named in the outcome's ``undecided`` list with its line.

A node in kube-proxy's IPVS mode also gives its ``ipvsadm -Sn`` (or ``-Ln``) output: the host runs IPVS's
hooks with those virtual servers, and a new connection's real server is a branch too (where the node's
rr scheduler stands is unknown: each real server 1/n).

This module reads the node and searches its paths; one path's walk is ``hairpin.tracer``, which records
what the host did without a word; ``hairpin.model.trace`` holds what was found and builds its words (rule
text, notes, hops, verdicts, choices) when the report reads them.
"""

from __future__ import annotations

import ipaddress
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from hairpin import legacy, unseen
from hairpin.errors import InputError
from hairpin.gcpause import paused
from hairpin.ipvs import IpvsTable
from hairpin.model.net import Flags, Packet, addr_int, ip_int, ip_str, is_v6
from hairpin.model.trace import ASYMMETRIC_WHY, Leg, Outcome, RuleStep, Trace
from hairpin.netfilter.evaluate import MAX_EVALUATIONS
from hairpin.netfilter.nft_tables import Nft, has_table
from hairpin.netfilter.rules import Ruleset
from hairpin.parsers import conntrack_list, forms, iproute, ipset, iptables_check, ipvsadm, pasted, sockets
from hairpin.parsers.conntrack_list import CtEntry
from hairpin.parsers.ipset import IpSet
from hairpin.parsers.linkinfo import LinkKind
from hairpin.parsers.nft_ruleset import read_nft
from hairpin.parsers.node import read_node
from hairpin.parsers.sockets import Listener
from hairpin.tracer import Tracer

__all__ = ["ASYMMETRIC_WHY", "FILES", "Leg", "Node", "Outcome", "RuleStep", "Trace", "check_packet", "parse_packet",
           "trace"]  # fmt: skip

#: Conventional file names in a node directory (``--node DIR``), first found wins.
FILES = {
    "iptables": ("iptables-save", "iptables-save.txt", "iptables.txt"),
    "routes": ("ip-route", "ip-route.txt", "routes", "routes.txt", "route-n", "route-n.txt"),
    "rules": ("ip-rule", "ip-rule.txt", "rules", "rules.txt"),
    "addrs": ("ip-addr", "ip-addr.txt", "addrs", "addrs.txt"),
    "ipset": ("ipset-save", "ipset-save.txt", "ipset", "ipset.txt"),
    "ipvs": ("ipvsadm", "ipvsadm.txt", "ipvsadm-save", "ipvsadm-save.txt"),
}
#: An IPv6 node's files (``--node DIR``, for IPv6 packets): ``ip addr`` lists both families' addresses, so the
#: address file is the same; the rest are the ip6tables and ``ip -6`` forms (``hairpin collect`` writes these names).
FILES6 = {
    "iptables": ("ip6tables-save", "ip6tables-save.txt", "ip6tables.txt"),
    "routes": ("ip6-route", "ip6-route.txt", "ip-6-route", "ip-6-route.txt", "routes6", "routes6.txt"),
    "rules": ("ip6-rule", "ip6-rule.txt", "ip-6-rule", "ip-6-rule.txt", "rules6", "rules6.txt"),
    "addrs": FILES["addrs"],
    "ipset": FILES["ipset"],
    "ipvs": FILES["ipvs"],
}
MAX_PATHS = 4096
#: over all of a trace's outcomes: the rules looked at and the random choices made (each outcome keeps its
#: own); past either, the rest of the outcomes are not listed (a Service of 5,000 endpoints: outcome k makes
#: k choices, and prints them: 4,096 outcomes made 8 million and ran out of 2 GB)
MAX_LOOKED = 20_000_000
MAX_CHOICES = 200_000
#: an endpoint: ``A.B.C.D:PORT``, or ``[IPV6]:PORT`` (RFC 3986's brackets, as ``ss`` and hairpin print them)
_END = r"(?:(?P<{0}>[\d.]+)|\[(?P<{0}6>[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)\]):(?P<{1}>\d+)"
_PACKET = re.compile(
    r"^\s*(?P<proto>tcp|udp)\s+" + _END.format("src", "sport") + r"\s*>\s*" + _END.format("dst", "dport")
    + r"(?:\s+(?P<flags>(?!in\b|out\b)[A-Za-z,|]+))?(?:\s+(?:in\s+(?P<iif>\S+)|(?P<out>out)))?\s*$"
)

#: an IPv6 address written without brackets (tcpdump's ``fd00::1.1234``, or ``fd00::1:1234``)
_BARE_V6 = re.compile(r"(?:^|\s)[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,}(?:[.:]\d+)?\s*>")


def parse_packet(text: str) -> tuple[Packet, str | None]:
    """``tcp 192.168.27.239:49134 > 192.168.2.3:31468 syn in eth0`` -> (packet, input interface); ``out``
    instead of ``in IFACE`` means a packet this node itself sends (OUTPUT).  IPv6 endpoints are written
    ``[fd00::1]:1234``; both ends are of one family."""
    m = _PACKET.match(text)
    if m is None:
        if _BARE_V6.search(text):
            raise InputError(f"packet {text!r}: write an IPv6 endpoint in brackets, e.g. "
                             "'tcp [fd00::1]:1234 > [fd00::2]:80 syn in eth0'")  # fmt: skip
        raise InputError(f"packet {text!r}: expected 'tcp SRC:PORT > DST:PORT [FLAGS] (in IFACE | out)' "
                         "(IPv6: [ADDR]:PORT)")  # fmt: skip
    if m["iif"] is None and m["out"] is None:
        raise InputError(f"packet {text!r}: say where it enters: 'in IFACE' (e.g. in eth0) or 'out' (sent by the node)")
    if (m["src"] is None) != (m["dst"] is None):
        raise InputError(f"packet {text!r}: one IPv4 and one IPv6 endpoint; a packet's addresses are of one family")
    try:
        flags = Flags.parse(m["flags"]) if m["flags"] else (Flags.SYN if m["proto"] == "tcp" else Flags(0))
        if m["src"] is not None:
            src, dst = ip_int(m["src"]), ip_int(m["dst"])
        else:
            src, dst = addr_int(ipaddress.IPv6Address(m["src6"])), addr_int(ipaddress.IPv6Address(m["dst6"]))
    except ValueError as e:
        raise InputError(f"packet {text!r}: {e}") from None
    sport, dport = int(m["sport"]), int(m["dport"])
    if sport > 65535 or dport > 65535:
        raise InputError(f"packet {text!r}: port out of range")
    seq = 1000 if flags & Flags.SYN and not flags & Flags.ACK else 2000
    return Packet(src, sport, dst, dport, flags, seq, 0, m["proto"]), m["iif"]


@dataclass
class Node:
    """A node's netfilter rules and routing, with the files they came from."""

    ruleset: Ruleset
    routing: iproute.NodeRouting
    name: str = "node"
    ipsets: dict[str, IpSet] | None = None  # ``ipset save`` content, to decide ``-m set`` (Calico, IPVS mode)
    ipvs: IpvsTable | None = None  # ``ipvsadm -Sn``/``-Ln``: kube-proxy's IPVS mode
    links: set[str] = field(default_factory=set)  # every interface the files name (empty: not checked)
    forms: dict[str, str] = field(default_factory=dict)  # kind -> "FILE: the form read"
    listening: list[Listener] | None = None  # ``ss -ltnu``'s sockets (hairpin.parsers.sockets); None: unknown
    #: ``nft list ruleset``'s table ip kube-proxy (kube-proxy's nftables mode) and/or the VPC CNI's table ip aws-cni
    nft: Nft | None = None
    nft_warnings: list[str] = field(default_factory=list)
    conntrack: list[CtEntry] | None = None  # ``conntrack -L``: entries loaded before each trace
    #: iptables-legacy's tables beside iptables-nft's (``ruleset``): both backends' hooks, every order traced
    legacy: Ruleset | None = None
    #: 4, or 6: the files are ip6tables-save's, ``ip -6 route``'s and ``ip -6 rule``'s, and IPv6 packets are traced
    family: int = 4
    #: datapaths outside netfilter the files show (``hairpin.unseen.datapaths``): "Cilium", ...
    not_modelled: list[str] = field(default_factory=list)
    datapath_warnings: list[str] = field(default_factory=list)
    #: the files hold kube-proxy's rules (a chain only it writes, its nftables table, or ``ipvsadm``), read once
    kube_proxy: bool = True
    #: each device's kind where the address file says it (``ip -d addr``: ``hairpin.parsers.linkinfo``); a packet
    #: leaving by a tunnel device is said to be encapsulated (``hairpin.tunnels``), known ones also by name
    link_kinds: dict[str, LinkKind] = field(default_factory=dict)
    #: what finding the files in a directory left unread (``find_all``'s ``unread``), said first
    file_warnings: list[str] = field(default_factory=list)
    _tracer: Tracer | None = field(default=None, repr=False, compare=False)

    def tracer(self) -> Tracer:
        """The node's host, built once (rules compiled on first use, long chains indexed) and reused by every
        trace."""
        if self._tracer is None:
            self._tracer = Tracer(self)
        return self._tracer

    @classmethod
    def load(
        cls,
        iptables_save_file: str | Path | list[Path] | None,
        routes_file: str | Path,
        rules_file: str | Path | None = None,
        addrs_file: str | Path | None = None,
        name: str = "node",
        ipset_file: str | Path | None = None,
        ipvs_file: str | Path | None = None,
        table: str | None = None,
        sockets_file: str | Path | None = None,
        nft_file: str | Path | None = None,
        conntrack_file: str | Path | None = None,
        legacy_file: str | Path | None = None,
        family: int = 4,
    ) -> Node:
        """Read a node's files in any accepted form (``hairpin.parsers.forms``), checked before use.

        Rule files of both iptables backends (told by their '# Generated by' line, or ``legacy_file``: the
        iptables-legacy-save one) are kept apart, each backend's tables on the kernel's hooks
        (``hairpin.legacy``).  ``family`` 6 reads an IPv6 node (ip6tables-save, ``ip -6 route``, ``ip -6 rule``,
        the IPv6 addresses of ``ip addr``, ``conntrack -L -f ipv6``): a file of the other family is refused."""
        if iptables_save_file is None:
            ipt: list[Path] = []
        elif isinstance(iptables_save_file, list):
            ipt = list(iptables_save_file)
        else:
            ipt = [Path(iptables_save_file)]
        if legacy_file is not None and Path(legacy_file) not in ipt:
            ipt.append(Path(legacy_file))
        if not ipt and nft_file is None:
            raise InputError("give the node's rules: iptables-save (or iptables -S), or nft list ruleset")
        with paused():  # millions of small objects, no cycles to collect (hairpin.gcpause)
            nf = read_node(ipt[0] if ipt else None, routes_file, rules_file, addrs_file,
                           table if len(ipt) == 1 else None, family=family)  # fmt: skip
        rs = nf.ruleset
        legacy_rs = None
        read_forms = [nf.forms["iptables"].split(": ", 1)[1]] if ipt else []  # each rule file's form, in order
        if len(ipt) > 1:  # one backend's files (one per table), or both backends' dumps: hairpin.legacy.split
            dumps: list[legacy.Dump] = [(ipt[0], rs, read_forms[0])]
            for more in ipt[1:]:
                extra, form = forms.read_iptables(iproute.read_text(more), str(more), None, family=family)
                iptables_check.check(extra)
                extra.warnings += unseen.cut_service_chains(extra)
                dumps.append((more, extra, form))
                read_forms.append(form)
            rs, legacy_rs, nf.forms["iptables"] = legacy.split(dumps, [Path(legacy_file)] if legacy_file else [])
        sets = ipset.load(ipset_file) if ipset_file is not None else None
        ipvs = ipvsadm.load(ipvs_file) if ipvs_file is not None else None
        listening = sockets.load(sockets_file) if sockets_file is not None else None
        if sockets_file is not None:
            nf.forms["sockets"] = f"{sockets_file}: ss -ltnu"
        nft = None
        nft_warnings: list[str] = []
        if nft_file is not None:
            nft, form, nft_warnings = read_nft(iproute.read_text(nft_file), str(nft_file), bool(ipt), family)
            nf.forms["nft"] = f"{nft_file}: {form}"
        ct = None
        if conntrack_file is not None:
            ct = conntrack_list.parse(iproute.read_text(conntrack_file), str(conntrack_file), family)
            nf.forms["conntrack"] = (f"{conntrack_file}: conntrack -L{' -f ipv6' if family == 6 else ''} ({len(ct)} "
                                     f"{'IPv6 ' if family == 6 else ''}tcp/udp entries)")  # fmt: skip
        kp_nft = has_table(nft, "kube-proxy")  # kube-proxy's nftables mode (the CNI's table alone: not)
        rulesets = [rs] + ([legacy_rs] if legacy_rs is not None else [])
        kp = unseen.kube_proxy_chain(rulesets)
        if ipt:
            dash_s = all(f.startswith(("iptables -S", "ip6tables -S")) for f in read_forms)
            rs.warnings += unseen.missing_tables(rulesets, kp, dash_s, kp_nft, [str(f) for f in ipt])
        ct_marks = 0
        for entry in ct or ():
            ct_marks |= entry.mark
        rs.warnings += unseen.unset_marks(rulesets, nft, nf.routing.routing,
                                          None if rules_file is None else str(rules_file), ct_marks)  # fmt: skip
        rs.warnings += unseen.cni_connmarks_not_given(rulesets, nft)
        rs.warnings += unseen.foreign_cni_snat(rulesets, nf.routing.routing, str(routes_file))
        found = unseen.datapaths(rulesets, nf.links)
        no_ipvs = unseen.ipvs_not_given(rulesets, nf.links, ipvs is not None)
        if family == 6 and ipvs is not None:
            raise InputError("IPVS (kube-proxy's IPVS mode) is not traced for IPv6 packets: hairpin's IPVS model is "
                             "IPv4's", str(ipvs_file))  # fmt: skip
        return cls(rs, nf.routing, name, sets, ipvs, nf.links, nf.forms, listening, nft, nft_warnings, ct,
                   legacy_rs, family=family, not_modelled=[n for n, _ in found] + ([no_ipvs[0]] if no_ipvs else []),
                   datapath_warnings=unseen.datapath_warnings(found, kp_nft or kp is not None)
                   + ([no_ipvs[1]] if no_ipvs else []),
                   link_kinds=nf.kinds, kube_proxy=kp_nft or ipvs is not None or kp is not None)  # fmt: skip

    @staticmethod
    def find(directory: str | Path, family: int = 4) -> dict[str, Path]:
        """The node files in ``directory``: by their conventional names (``FILES``, ``FILES6``), else by content."""
        return Node.find_all(directory, family)[0]

    @staticmethod
    def find_all(
        directory: str | Path, family: int = 4, unread: list[tuple[str, str]] | None = None
    ) -> tuple[dict[str, Path], list[Path]]:
        """``find``, and every iptables file (one ``iptables -t TABLE -S`` output per file is common).  A file
        found by content is the family's when its content says so (``forms.family_of``) or says nothing.  A
        second file of a kind already found (another node's routes copied in beside this node's) is not read;
        ``unread`` gets its kind and a warning line for each."""
        d = Path(directory)
        names = FILES6 if family == 6 else FILES
        other = {n for ns in (FILES if family == 6 else FILES6).values() for n in ns} - {
            n for ns in names.values() for n in ns}
        if not d.is_dir():
            raise InputError("not a directory", str(d))
        out: dict[str, Path] = {}
        more: list[Path] = []
        for key, conventional in names.items():
            for n in conventional:
                if (d / n).is_file():
                    out[key] = d / n
                    break
                if os.path.lexists(d / n) and unread is not None:  # a FIFO, device, directory or dangling link
                    unread.append((key, f"{d / n}: not a regular file ({_file_type(d / n)}): not read"))
        for f in sorted(d.iterdir())[:256]:
            if not f.is_file() or f in out.values() or f.name in other or f.stat().st_size > 64 * 2**20:
                continue
            try:
                with f.open(encoding="utf-8", errors="strict") as fh:
                    head = fh.read(65536)
            except (OSError, UnicodeDecodeError):
                continue
            kind = "sockets" if _SS_HEADER.match(head) else forms.kind_of(head)
            bare = pasted.without_prompts(head) if kind is None else ""
            if bare and (_SS_HEADER.match(bare) or forms.kind_of(bare) is not None):
                pasted.refuse_prompt(head, str(f))  # a node file under a pasted prompt: said, not left unread
            if kind is not None and forms.family_of(head, kind) not in (None, family):
                continue
            if kind == "iptables":
                more.append(f)
            if kind is not None and kind not in out:
                out[kind] = f
            elif kind is not None and kind != "iptables" and unread is not None:
                unread.append((kind, f"{f}: {_KIND_WORDS.get(kind, kind)} too, beside {out[kind].name}, which is read: "
                                     "not read (a directory gives one node's files, one of each kind)"))  # fmt: skip
        for key in ("iptables", "routes"):
            if key not in out and not (key == "iptables" and "nft" in out):
                what = f"IPv6 {key}" if family == 6 else key
                raise InputError(f"no {what} file (looked for {', '.join(names[key])} and read every file's content)",
                                 str(d))  # fmt: skip
        every = [out["iptables"]] if "iptables" in out else []
        return out, every + [f for f in more if f not in every]


def _file_type(path: Path) -> str:
    """What ``path`` is, when it is not a regular file: ``a FIFO``, ``a directory``, ``a link to nothing``..."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return "a link to nothing"
    kinds = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))  # fmt: skip
    return next((what for test, what in kinds if test(mode)), "not a file")


#: what ``find_all`` names a file it does not read by (its kind's words)
_KIND_WORDS = {"routes": "routes", "rules": "ip rules", "addrs": "addresses", "ipset": "ipset save output",
               "ipvs": "ipvsadm output", "sockets": "sockets (ss)", "nft": "an nft ruleset", "conntrack": "conntrack entries"}  # fmt: skip
_SS_HEADER = re.compile(r"^\s*(Netid\s+)?State\s+Recv-Q\s+Send-Q\s+Local Address:Port", re.M)


def check_packet(node: Node, packet: Packet, iif: str | None) -> None:
    """Refuse a packet the node could not see: one of the other family than the node's files, an unknown
    interface, or a source not its own when sent by it."""
    if is_v6(packet.dst) != (node.family == 6):
        have = ("ip6tables-save, ip -6 route" if node.family == 6 else "iptables-save, ip -4 route")
        want = ("ip6tables-save and ip -6 route show table all (ip -6 rule)" if is_v6(packet.dst) else
                "iptables-save and ip -4 route show table all (ip rule)")  # fmt: skip
        raise InputError(f"packet {packet}: an IPv{6 if is_v6(packet.dst) else 4} packet, but the node's files are "
                         f"IPv{node.family}'s ({have}): give {want}")  # fmt: skip
    if is_v6(packet.dst) and packet.dst >> 120 & 0xFF == 0xFF:
        raise InputError(f"packet {packet}: a multicast destination is not traced (IPv6 multicast routing and MLD "
                         "are not modelled)")  # fmt: skip
    if iif is not None and node.links and iif not in node.links:
        known = ", ".join(sorted(node.links))
        raise InputError(f"packet {packet}: the node has no interface {iif!r} (its files name: {known})")
    if iif is None and not node.routing.routing.is_local(packet.src):
        raise InputError(f"packet {packet}: sent by the node ('out') but {ip_str(packet.src)} is not one of its "
                         "addresses (local routing table); a packet from a pod enters on the pod's interface: "
                         "'in IFACE'")  # fmt: skip


def trace(node: Node, packet: Packet, iif: str | None, *, reply: bool = False) -> Trace:
    """Every outcome of ``packet`` entering ``node`` on ``iif`` (None: sent by the node itself)."""
    check_packet(node, packet, iif)
    t = node.tracer()
    why = ""  # why the last paths() left paths out

    def paths() -> tuple[list[Outcome], bool]:
        nonlocal why
        outcomes: list[Outcome] = []
        stack: list[list[bool]] = [[]]
        looked = choices = 0  # rules looked at and choices made, over every outcome so far
        while stack:
            script = stack.pop()
            for e in t.evaluators:  # one outcome's passes: past the budget, refused (evaluate.over_budget)
                e.budget = MAX_EVALUATIONS
            o, n = t.run(packet, iif, reply, script)
            outcomes.append(o)
            for e in t.evaluators:
                looked += MAX_EVALUATIONS - (e.budget or 0)
            choices += n
            for i in range(n - 1, len(script) - 1, -1):  # the other answer at each new decision
                stack.append(script + [True] * (i - len(script)) + [False])
            if stack and (len(outcomes) >= MAX_PATHS or looked > MAX_LOOKED or choices > MAX_CHOICES):
                why = (f"more than {MAX_PATHS} paths" if len(outcomes) >= MAX_PATHS else
                       f"more than {MAX_LOOKED:,} rules looked at" if looked > MAX_LOOKED else
                       f"more than {MAX_CHOICES:,} random choices made (a long statistic or IPVS list: outcome k "
                       "makes k)")  # fmt: skip
                break
        return outcomes, bool(stack)

    warnings = (list(node.file_warnings) + list(node.datapath_warnings) + list(node.routing.warnings)
                + list(node.ruleset.warnings) + list(node.nft_warnings))
    results = 1
    asked: list[legacy.OrderKey] = []
    if node.legacy is None and (not has_table(node.nft, "kube-proxy") or not node.ruleset.tables):
        outcomes, cut = paths()
    else:  # tables of equal priority whose order no dump records: both iptables backends, or kube-proxy's nft table
        warnings += node.legacy.warnings if node.legacy is not None else []
        outcomes, said, results, asked = legacy.trace_orders(t, paths)
        warnings += said
        cut = False  # said by trace_orders
    if cut:
        warnings.append(f"{why}, over the {len(outcomes)} outcomes listed: the rest are not listed")
    if not node.kube_proxy and not node.not_modelled:  # no Service is translated here (hairpin.unseen)
        local = iif is not None and node.routing.routing.is_local(packet.dst)
        warnings.append(unseen.no_kube_proxy(packet, local, node.family))
    if reply and node.listening is None and any(o.legs[0].kind == "local" for o in outcomes):
        warnings.append("a reply from a local socket assumes something listens on the port; give the node's "
                        "`ss -ltnu` output (--sockets FILE) to know (no listener: RST)")  # fmt: skip
    out = Trace(packet, iif, outcomes, warnings, dict(node.forms))
    out.results = results
    out.not_modelled = list(node.not_modelled)
    out.unknown_orders = legacy.unknown_orders(asked)
    return out
