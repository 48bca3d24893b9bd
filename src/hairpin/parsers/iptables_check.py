"""The checks ``iptables-restore`` and the kernel make before a rule file is loaded, made on a parsed Ruleset.

``iptables_save.parse`` reads the grammar; this module refuses what the grammar allows but the real tools
do not load, so a trace never runs on a rule file the node could not hold.  Each refusal is one
``ParseError`` naming the file, the line and what is wrong.  The facts, from iptables 1.8.9 and Linux 6.x:

- Tables: the kernel knows ``raw mangle nat filter security`` (iptables-restore: "table name 'natx'
  invalid", nft backend; "unable to initialize table", legacy).
- A user chain has policy ``-``; built-in chains are the table's hooks (``BUILTIN_CHAINS``).
- ``-j NAME``: NAME is a verdict (``ACCEPT DROP RETURN QUEUE``), a chain of the same table, or a target
  extension (the ``libxt_*``/``libipt_*`` shared objects iptables ships, ``TARGETS``); anything else is
  "Couldn't load target" (legacy) / "Chain 'NAME' does not exist" (nft).  The same for ``-m NAME``
  (``MATCHES``).
- Addresses (``-s``, ``-d``, ``--to-destination``, ``--to-source``...) are dotted quads with an
  optional prefix length or dotted mask (xtables_ipparse_multiple: "host/network not found",
  "Bad IP address"); ports are 0-65535 (or a service name from /etc/services) with ``min <= max``
  ("invalid port/service", "invalid portrange (min > max)"; the udp match of iptables 1.8.9 loads an
  inverted range, which matches nothing, and wraps a port above 65535 modulo 65536: hairpin refuses the
  latter, as a dump never holds it); NAT ports need ``-p tcp|udp|sctp|dccp``
  (libxt_NAT: "Need TCP, UDP, SCTP or DCCP with port specification"); ``--probability`` is 0-1
  (libxt_statistic); marks are 32-bit.
- Hooks and tables of targets (net/netfilter/xt_nat.c, xt_MASQUERADE.c, xt_REDIRECT.c, ipt_REJECT.c,
  xt_CT.c, xt_TPROXY.c): DNAT and REDIRECT only in nat PREROUTING/OUTPUT, SNAT in nat POSTROUTING/INPUT,
  MASQUERADE in nat POSTROUTING, REJECT in filter INPUT/FORWARD/OUTPUT, CT/NOTRACK in raw, TPROXY in
  mangle PREROUTING.  A user chain takes the hooks of every built-in chain that reaches it; a chain no
  built-in chain reaches is not checked (the kernel does not either).
- ``-j DROP`` in the nat table is refused by iptables itself ("not intended for filtering").
- ``-j REJECT --reject-with tcp-reset`` without ``-p tcp`` (or with ``! -p tcp``) is refused by the kernel's check of
  the target (ipt_REJECT.c, ip6t_REJECT.c; measured with iptables 1.8.9 on both backends, Linux 6.18).
- ``-m ipvs`` (extensions/libxt_ipvs.c and xtables' option types, iptables 1.8.9): at least one option, each at
  most once; ``--ipvs`` takes no value and ``! --ipvs`` goes alone; ``--vproto`` a protocol name or number
  0-255, ``--vaddr`` a dotted address with a prefix length or dotted mask (a prefix above 32 loads as /32),
  ``--vport``/``--vportctl`` a port or service name (a number above 65535 loads modulo 65536: refused, as a
  dump never holds it), ``--vdir`` ORIGINAL or REPLY and not negated, ``--vmethod`` GATE, IPIP or MASQ
  (case-insensitive).  ``iptables-restore --test`` parses these without the kernel's xt_ipvs.
- Value counts (``iptables_arity``): each option of the extensions it lists takes its number of values
  ("Bad argument `WORD'" for a word no option takes, 'option "--x" requires an argument', "--match-set
  requires two args.") and is negated only where the extension allows it ('option "--x" cannot be
  inverted'); a verdict or a jump to a chain takes no options ('unknown option "--x"').  Options of other
  extensions are taken as written.
- ip6tables' rules (``Ruleset.family`` 6): addresses, NAT ranges, REJECT types and extensions as ip6tables-restore
  reads them (``hairpin.parsers.ip6tables``).
- Jump loops: a chain reachable from a built-in chain that jumps, directly or through others, back into
  itself is refused at commit (ELOOP; iptables-nft: "RULE_APPEND failed (Too many links): rule in chain
  X").  ``iptables-restore --test`` does not load, so it does not see loops; the kernel does.
"""

from __future__ import annotations

import re
import socket

from hairpin.errors import ParseError
from hairpin.netfilter.rules import BUILTIN_CHAINS, Match, Option, Rule, Ruleset
from hairpin.parsers import ip6tables
from hairpin.parsers.chain_depth import MAX_NESTING, NFT_NESTING, Loop, deepest, post_order, shown
from hairpin.parsers.iptables_arity import OPTIONS
from hairpin.reading import long_number, number_error
from hairpin.text import digits

__all__ = ["MATCHES", "MATCHES6", "TARGETS", "TARGETS6", "check"]

VERDICTS = frozenset({"ACCEPT", "DROP", "RETURN", "QUEUE"})
#: Target extensions iptables 1.8.9 ships (extensions/libxt_*.c, libipt_*.c, IPv4 ones).
TARGETS = frozenset({
    "AUDIT", "CHECKSUM", "CLASSIFY", "CLUSTERIP", "CONNMARK", "CONNSECMARK", "CT", "DNAT", "DSCP", "ECN", "HMARK",
    "IDLETIMER", "LED", "LOG", "MARK", "MASQUERADE", "NETMAP", "NFLOG", "NFQUEUE", "NOTRACK", "RATEEST", "REDIRECT",
    "REJECT", "SECMARK", "SET", "SNAT", "SYNPROXY", "TCPMSS", "TCPOPTSTRIP", "TEE", "TOS", "TPROXY", "TRACE", "TTL",
    "ULOG", "ERROR",
})  # fmt: skip
#: Match extensions iptables 1.8.9 ships (IPv4).
MATCHES = frozenset({
    "addrtype", "ah", "bpf", "cgroup", "cluster", "comment", "connbytes", "connlabel", "connlimit", "connmark",
    "conntrack", "cpu", "dccp", "devgroup", "dscp", "ecn", "esp", "hashlimit", "helper", "icmp", "ipcomp", "iprange",
    "ipvs", "length", "limit", "mac", "mark", "multiport", "nfacct", "osf", "owner", "physdev", "pkttype", "policy",
    "quota", "rateest", "realm", "recent", "rpfilter", "sctp", "set", "socket", "state", "statistic", "string", "tcp",
    "tcpmss", "time", "tos", "ttl", "u32", "udp", "udplite",
})  # fmt: skip
#: ip6tables' (libxt_* and libip6t_*: hairpin.parsers.ip6tables)
MATCHES6 = (MATCHES - ip6tables.MATCHES4_ONLY) | ip6tables.MATCHES6_ONLY
TARGETS6 = (TARGETS - ip6tables.TARGETS4_ONLY) | ip6tables.TARGETS6_ONLY
#: target -> (table, hooks) the kernel allows it in.
_PLACES: dict[str, tuple[str, frozenset[str]]] = {
    "DNAT": ("nat", frozenset({"PREROUTING", "OUTPUT"})),
    "REDIRECT": ("nat", frozenset({"PREROUTING", "OUTPUT"})),
    "SNAT": ("nat", frozenset({"POSTROUTING", "INPUT"})),
    "MASQUERADE": ("nat", frozenset({"POSTROUTING"})),
    "REJECT": ("filter", frozenset({"INPUT", "FORWARD", "OUTPUT"})),
    "CT": ("raw", frozenset({"PREROUTING", "OUTPUT"})),
    "NOTRACK": ("raw", frozenset({"PREROUTING", "OUTPUT"})),
    "TPROXY": ("mangle", frozenset({"PREROUTING"})),
}
_PORT_OPTS = {"--dport", "--sport", "--destination-port", "--source-port"}
_MULTI_OPTS = {"--dports", "--sports", "--ports", "--destination-ports", "--source-ports"}
_PORTED_PROTOS = {"tcp", "udp", "sctp", "dccp", "6", "17", "132", "33"}
_PROTOS = {"all", "tcp", "udp", "udplite", "icmp", "esp", "ah", "sctp", "gre", "dccp", "ipip", "ipencap", "igmp"}
_IFNAMSIZ = 16
#: ip6tables' -p names beyond those (xtables.c xtables_chain_protos; /etc/protocols is asked too)
_PROTOS6 = frozenset({"icmpv6", "ipv6-icmp", "mh", "ipv6-mh"})
#: what iptables_save.parse files as a built-in option (a Match with module "" and this one option)
_BUILTIN_NAMES = frozenset({"-s", "-d", "-p", "-i", "-o", "-f"})
_DOTTED = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
_BYTE = r"(?:25[0-5]|2[0-4][0-9]|[01][0-9][0-9]|[0-9]?[0-9])"
_QUAD = re.compile(rf"{_BYTE}\.{_BYTE}\.{_BYTE}\.{_BYTE}")


def check(rs: Ruleset) -> None:
    """Refuse what ``iptables-restore`` (and the kernel, on commit) would refuse; first problem wins."""
    f = rs.file
    # (id, protocol) of the matches and targets found valid so far: the parser builds equal ones once, so a
    # dump's ten thousand "-m tcp --dport 80" are checked once (only successes are kept: a rule that is
    # refused is refused at its own line)
    valid: set[tuple[int, str]] = set()
    for table in rs.tables.values():
        if table.name not in BUILTIN_CHAINS:
            raise ParseError(f"unknown table *{table.name} (the kernel has raw, mangle, nat, filter, security)",
                             f, table.line)  # fmt: skip
        builtins = BUILTIN_CHAINS[table.name]
        for chain in table.chains.values():
            if chain.name not in builtins and chain.policy is not None:
                raise ParseError(f"chain {chain.name} is not a built-in chain of *{table.name}: it cannot have "
                                 f"policy {chain.policy}", f, chain.line)  # fmt: skip
        chains = table.chains.keys()
        # a dump iptables-legacy-save wrote says so by saying nothing after its version (hairpin.legacy)
        nft = not any(ip6tables.HEADER.search(h) and "(nf_tables)" not in h for h in rs.header)
        for chain in table.chains.values():
            for rule in chain.rules:
                if nft:
                    _port_pair(rule, f, rs.warnings)
                try:
                    _check_rule(rule, chains, f, valid, rs.warnings, rs.family)
                except ValueError as exc:  # a port, mask or protocol number too long for Python to read
                    if not long_number(exc):
                        raise
                    raise number_error(None, f, "", rule.line) from None
    for table in rs.tables.values():
        _check_graph(rs, table.name)


def _port_pair(rule: Rule, f: str | None, warnings: list[str]) -> None:
    """``-m tcp ! --sport A ! --dport B`` (single ports): iptables-nft 1.8.9 loads it as one compare of the port
    pair, so the kernel matches when EITHER port differs, while iptables-nft-save prints it as written and
    iptables-legacy (and hairpin) match only when both differ (measured on Linux 6.18.44 with iptables 1.8.9,
    2026-12-02: tests/test_trace_kernel_lab.py).  The dump cannot tell: the trace says so at the rule."""
    for m in rule.matches:
        if m.module not in ("tcp", "udp"):
            continue
        ports = {o.name: o for o in m.options if o.name in ("--sport", "--dport")}
        if len(ports) == 2 and all(o.negated and digits(o.value) for o in ports.values()):
            warnings.append(f"{f}:{rule.line}: '! --sport {ports['--sport'].value} ! --dport {ports['--dport'].value}': "
                            "iptables-nft 1.8.9 loads this as one compare of the port pair, so on an nf_tables node "
                            "the kernel matches a packet when either port differs; hairpin reads it as written (both "
                            "differ), as iptables-legacy does")  # fmt: skip


def _check_rule(rule: Rule, chains: object, f: str | None, valid: set[tuple[int, str]], warnings: list[str],
                family: int = 4) -> None:  # fmt: skip
    line = rule.line
    matches, targets = (MATCHES, TARGETS) if family == 4 else (MATCHES6, TARGETS6)
    proto = ""
    for m in rule.matches:
        if m.module == "":
            if len(m.options) != 1 or m.options[0].name not in _BUILTIN_NAMES:
                # -m "": the parser keeps it as a match named "" (iptables 1.8.9 libxtables xtables_find_match:
                # "Couldn't load match `':No such file or directory"; iptables-nft-restore --test, exit 2)
                raise ParseError("-m \"\": a match module has a name (iptables: Couldn't load match `')", f, line)
            o = m.options[0]
            if o.name in ("-s", "-d"):
                key = (id(m), "")
                if key not in valid:
                    for part in o.value.split(","):
                        if family == 6:
                            ip6tables.ip6_network(part, f, line)
                        else:
                            _network(part, f, line)
                    valid.add(key)
            elif o.name == "-p":
                proto = o.value.lower()
                if (proto not in _PROTOS and not (digits(proto) and int(proto) <= 255)
                        and not (family == 6 and (proto in _PROTOS6 or _known_protocol(proto)))):  # fmt: skip
                    raise ParseError(f"unknown protocol {o.value!r} specified", f, line)
            elif o.name == "-f" and family == 6:  # ip6tables' command_default refuses it (xshared.c, 1.8.9)
                raise ParseError("`-f' is not supported in IPv6, use -m frag instead", f, line)
            elif o.name in ("-i", "-o"):
                if len(o.value) >= _IFNAMSIZ:
                    raise ParseError(f"interface name {o.value!r} must be shorter than IFNAMSIZ ({_IFNAMSIZ - 1})",
                                     f, line)  # fmt: skip
                if o.value.startswith(o.name) and f"{o.name} {o.value}" not in rule.source:
                    # -ieth0, written attached: iptables 1.8.9 takes the whole word (iptables_getopt)
                    warnings.append(f"{f}:{line}: {o.name} {o.value}: iptables 1.8.9 reads an interface named "
                                    f"'{o.value}' here, which no interface is, so the rule never matches (iptables "
                                    f"1.8.10 and later read '{o.value[2:]}'); taken as 1.8.9 reads it")  # fmt: skip
            continue
        key = (id(m), proto)
        if key in valid:
            continue
        if m.module not in matches:
            other = " (an iptables match: ip6tables has none by that name)" if family == 6 and m.module in MATCHES else (
                " (an ip6tables match)" if m.module in MATCHES6 else "")
            raise ParseError(f"unknown match -m {m.module}{other} (iptables: Couldn't load match `{m.module}')", f, line)
        _check_match(m, proto, f, line, family)
        valid.add(key)
    if family == 6:
        ip6tables.kernel6(rule, f, line, warnings)
    t = rule.target
    if t is None:
        return
    if rule.table == "nat" and t.name == "DROP":  # iptables.c refuses it before anything is loaded
        raise ParseError('the nat table is not intended for filtering: -j DROP is refused there', f, line)
    if t.name not in VERDICTS and t.name not in chains:  # type: ignore[operator]
        if t.goto or t.name not in targets:
            other = "" if t.goto or t.name not in TARGETS | TARGETS6 else (
                " (an iptables target: ip6tables has none by that name)" if family == 6 else " (an ip6tables target)")
            raise ParseError(f"{'-g' if t.goto else '-j'} {t.name}: no chain {t.name} in *{rule.table} and no such "
                             f"target{other}", f, line)  # fmt: skip
        key = (id(t), proto)
        if key not in valid:
            _check_target_options(rule, proto, f, line, family)
            valid.add(key)
    elif t.options:  # the standard target has no options (iptables: unknown option "--x")
        raise ParseError(f'unknown option "{t.options[0].name}": {"-g" if t.goto else "-j"} {t.name} takes no options',
                         f, line)  # fmt: skip


#: the match modules whose options are checked below (the others' options are taken as written)
_CHECKED = frozenset({"ipvs", "tcp", "udp", "sctp", "dccp", "udplite", "multiport", "statistic", "mark", "connmark",
                      "conntrack"})  # fmt: skip


def _check_match(m: Match, proto: str, f: str | None, line: int, family: int = 4) -> None:
    mod = m.module
    _arity(mod, m.options, f, line)
    if family == 6 and mod in ("iprange", "conntrack"):
        for o in m.options:
            if o.name in ("--src-range", "--dst-range") and mod == "iprange":
                ip6tables.iprange6(_one(o, f, line), o.name, f, line)
            elif o.name in ("--ctorigsrc", "--ctorigdst", "--ctreplsrc", "--ctrepldst"):
                ip6tables.conntrack_addr6(_one(o, f, line), o.name, f, line)
    if mod not in _CHECKED:
        return
    if mod == "ipvs":
        _check_ipvs(m, f, line)
        return
    for o in m.options:
        if o.name in _PORT_OPTS and mod in ("tcp", "udp", "sctp", "dccp", "udplite"):
            # libxt_udp (1.8.9) loads an inverted range as written (it matches nothing); tcp refuses it
            _port_range(_one(o, f, line), mod, f, line, ":", inverted_ok=mod == "udp")
        elif o.name in _MULTI_OPTS and mod == "multiport":
            parts = _one(o, f, line).split(",")
            if len(parts) > 15:
                raise ParseError("multiport: too many ports specified (at most 15)", f, line)
            for part in parts:
                _port_range(part, proto or "tcp", f, line, ":")
        elif mod == "statistic" and o.name == "--probability":
            try:
                p = float(_one(o, f, line))
            except ValueError:
                p = -1.0
            if not 0.0 <= p <= 1.0:
                raise ParseError(f"statistic: bad value for option \"--probability\" {o.value!r} (must be 0-1)",
                                 f, line)  # fmt: skip
        elif mod in ("mark", "connmark") and o.name == "--mark":
            _mark(_one(o, f, line), f, line)
        elif (mod == "conntrack" and o.name in ("--ctorigsrc", "--ctorigdst", "--ctreplsrc", "--ctrepldst")
              and family == 4):  # fmt: skip
            _network(_one(o, f, line), f, line)


def _check_target_options(rule: Rule, proto: str, f: str | None, line: int, family: int = 4) -> None:
    t = rule.target
    assert t is not None
    _arity(t.name, t.options, f, line)
    if family == 6 and t.name == "REJECT":
        ip6tables.reject6(rule, f, line)
    elif t.name == "REJECT" and (o := t.get("--reject-with")) is not None and o.value in ("tcp-reset", "tcp-rst"):
        # (libipt_REJECT.c takes tcp-rst for tcp-reset)
        ip6tables.require_tcp(rule, f, line, "ipt_REJECT.c reject_tg_check: TCP_RESET invalid for non-tcp")
    for o in t.options:
        if t.name in ("DNAT", "SNAT") and o.name in ("--to-destination", "--to-source", "--to"):
            if family == 6:
                ip6tables.nat_range6(_one(o, f, line), proto in _PORTED_PROTOS, f, line)
            else:
                _nat_range(_one(o, f, line), proto, f, line)
        elif t.name in ("MASQUERADE", "REDIRECT") and o.name == "--to-ports":
            if proto not in _PORTED_PROTOS:
                raise ParseError(f"{t.name} --to-ports needs -p tcp, udp, sctp or dccp", f, line)
            _port_range(_one(o, f, line), proto, f, line, "-")
        elif t.name in ("MARK", "CONNMARK") and o.name in ("--set-xmark", "--set-mark", "--and-mark", "--or-mark",
                                                            "--xor-mark", "--nfmask", "--ctmask", "--mask"):  # fmt: skip
            _mark(_one(o, f, line), f, line)


def _arity(owner: str, options: tuple[Option, ...], f: str | None, line: int) -> None:
    """Each option known to ``iptables_arity`` has its number of values and is negated only if it may be."""
    known = OPTIONS.get(owner)
    if known:
        for o in options:
            s = known.get(o.name)
            # one value, or none, as written (most options): nothing more to look at
            if s is not None and (len(o.values) != s[0] or s[0] == 2 or (o.negated and not s[1])):
                _arity_error(owner, o, s, f, line)


def _arity_error(owner: str, o: Option, s: tuple[int, bool], f: str | None, line: int) -> None:
    """What is wrong with ``o``, whose option takes ``s[0]`` values (raised), if anything (two values)."""
    n, invertible = s
    values = o.values
    if n == 2 and values[:1] == ("!",):  # "! --opt" negates; "--opt ! a b" is the value "!" (iptables 1.8)
        raise ParseError(f"`!' is not a negation after {o.name}: iptables takes it as the value ({owner}; "
                         f"write ! {o.name})", f, line)  # fmt: skip
    if len(values) != n:
        if len(values) > n and not (n == 2 and values[1][:1] in ("-", "!")):
            raise ParseError(f"Bad argument `{values[n]}' ({owner} {o.name} takes {_COUNTS[n]})", f, line)
        if n == 2 and values:  # libxt_set, libxt_tcp...: the second word is read by the extension
            raise ParseError(f"{o.name} requires two args. ({owner})", f, line)
        raise ParseError(f'option "{o.name}" requires an argument ({owner})', f, line)
    if n == 2 and values[1][:1] in ("-", "!"):
        raise ParseError(f"{o.name} requires two args. ({owner})", f, line)
    if o.negated and not invertible:
        raise ParseError(f'{owner}: option "{o.name}" cannot be inverted', f, line)


_COUNTS = ("no value", "one value", "two values")


def _one(o: Option, f: str | None, line: int) -> str:
    if len(o.values) != 1:
        raise ParseError(f"option {o.name} needs one value", f, line)
    return o.value


def _octets(text: str) -> bool:
    # a dotted quad of ASCII numbers 0-255 at once; anything else by the rule itself (\d is any Unicode
    # digit, $ allows a final newline)
    if _QUAD.fullmatch(text):
        return True
    return bool(_DOTTED.match(text)) and all(int(x) <= 255 for x in text.split("."))


def _network(text: str, f: str | None, line: int) -> None:
    addr, slash, mask = text.partition("/")
    if not _octets(addr):
        raise ParseError(f"host/network {addr!r} not found (expected a dotted IPv4 address)", f, line)
    if slash and not ((digits(mask) and int(mask) <= 32) or _octets(mask)):
        raise ParseError(f"invalid mask {mask!r} specified", f, line)


def _port(text: str, proto: str, f: str | None, line: int) -> int:
    if digits(text):
        n = int(text)
        if n <= 65535:
            return n
    else:
        # iptables resolves service names with getservbyname (/etc/services); its udp match takes a name
        # /etc/services lists for tcp only (udp --dport http loads as 80): any protocol's entry counts
        for p in (proto if proto in ("tcp", "udp") else "tcp", None):
            try:
                return socket.getservbyname(text, p) if p else socket.getservbyname(text)
            except (OSError, UnicodeError):
                continue
    raise ParseError(f"invalid port/service {text!r} specified", f, line)


def _port_range(text: str, proto: str, f: str | None, line: int, sep: str, inverted_ok: bool = False) -> None:
    lo_s, has, hi_s = text.partition(sep)
    lo = _port(lo_s, proto, f, line) if lo_s or not has else 0
    hi = _port(hi_s, proto, f, line) if has and hi_s else (65535 if has else lo)
    if lo > hi and not inverted_ok:
        raise ParseError(f"invalid portrange {text!r} (min > max)", f, line)


def _nat_range(text: str, proto: str, f: str | None, line: int) -> None:
    addrs, colon, ports = text.partition(":")
    for a in addrs.split("-") if addrs else ():
        if not _octets(a):
            raise ParseError(f"bad IP address {a!r}", f, line)
    if colon:
        if proto not in _PORTED_PROTOS:
            raise ParseError("a NAT port needs -p tcp, udp, sctp or dccp", f, line)
        lo_s, dash, hi_s = ports.partition("-")
        for p in (lo_s, hi_s) if dash else (lo_s,):
            if not digits(p) or int(p) > 65535:
                raise ParseError(f"port {p!r} not valid", f, line)
        if dash and int(lo_s) > int(hi_s):
            raise ParseError(f"invalid port range {ports!r} (min > max)", f, line)


def _mark(text: str, f: str | None, line: int) -> None:
    for part in text.split("/", 1):
        try:
            v = int(part, 0)
        except ValueError:
            v = -1
        if not 0 <= v <= 0xFFFFFFFF:
            raise ParseError(f"bad mark value {text!r}", f, line)


def _check_graph(rs: Ruleset, tname: str) -> None:
    """Jump loops reachable from a built-in chain, and targets used outside their table and hooks."""
    table = rs.tables[tname]
    # each chain's distinct successors in the order its rules first jump to them, with that first rule (a
    # later rule to the same chain meets a chain already explored, or already on the path and refused)
    # and, in the same pass, the rules whose target the kernel allows only in some tables and hooks
    succ: dict[str, dict[str, Rule]] = {name: {} for name in table.chains}
    placed: list[tuple[Rule, str]] = []
    for chain in table.chains.values():
        out = succ[chain.name]
        for rule in chain.rules:
            t = rule.target
            if t is None:
                continue
            name = t.name
            if name in succ:
                if name not in out:
                    out[name] = rule
            elif name in _PLACES:
                placed.append((rule, chain.name))
    # one depth-first search from the built-in chains in order, the explored chains shared between them: a
    # chain explored from an earlier hook has no loop below it
    roots = [hook for hook in BUILTIN_CHAINS[tname] if hook in table.chains]
    try:
        order = post_order(roots, {name: out.items() for name, out in succ.items()})  # a chain after all it jumps to
    except Loop as e:
        back: Rule = e.jump
        raise ParseError(f"jump loop: chain {back.chain} jumps back to {e.cycle[-1]} ({' -> '.join(e.cycle)}, "
                         f"reached from {tname} {e.root}); the kernel refuses it", rs.file, back.line) from None  # fmt: skip
    # how deep jumps nest below each hook (the evaluator follows MAX_NESTING; nf_tables refuses a 16th):
    # chain_depth.heights of these edges, without building them (every chain a chain in ``order`` jumps to
    # is in ``succ`` and comes before it in ``order``), and a leaf is 0
    height: dict[str, int] = {}
    for name in order:
        out = succ[name]
        height[name] = max([height[t] for t in out]) + 1 if out else 0
    for hook in roots:
        if height.get(hook, 0) > MAX_NESTING:
            edges = {name: [(t, r.line) for t, r in out.items()] for name, out in succ.items()}
            path, line = deepest(hook, edges, height, MAX_NESTING)
            raise ParseError(f"jumps nest more than {MAX_NESTING} chains deep below {tname} {hook} ({shown(path)}): "
                             f"not followed (iptables-nft refuses more than {NFT_NESTING}: Too many links)", rs.file,
                             line)  # fmt: skip
    # which hooks reach each chain: propagated in topological order (the graph has no loop now); a chain
    # reached from the same hooks as the chain that jumps to it shares its set (most of a kube-proxy dump)
    hooks: dict[str, frozenset[str]] = {hook: frozenset((hook,)) for hook in roots}
    for name in reversed(order):
        mine = hooks.get(name)
        if not mine:
            continue
        for nxt in succ[name]:
            have = hooks.get(nxt)
            if have is None:
                hooks[nxt] = mine
            elif have is not mine and not mine <= have:
                hooks[nxt] = have | mine
    for rule, chain_name in placed:
        t = rule.target
        assert t is not None
        want_table, want_hooks = _PLACES[t.name]
        if tname != want_table:  # checked for every rule, reached or not (xt_check_target)
            raise ParseError(f"-j {t.name} is only valid in the {want_table} table, not *{tname}", rs.file,
                             rule.line)  # fmt: skip
        reached = hooks.get(chain_name)
        bad = sorted(reached - want_hooks) if reached else None
        if bad:
            raise ParseError(f"-j {t.name} is not allowed from {tname} {', '.join(bad)} (only "
                             f"{', '.join(sorted(want_hooks))})", rs.file, rule.line)  # fmt: skip


_IPVS_OPTS = ("--ipvs", "--vproto", "--vaddr", "--vport", "--vdir", "--vmethod", "--vportctl")


def _check_ipvs(m: Match, f: str | None, line: int) -> None:
    """libxt_ipvs.c ``ipvs_mt_opts`` / ``ipvs_mt_parse`` / ``ipvs_mt_check`` with xtables' option parsing."""
    seen: set[str] = set()
    for o in m.options:
        if o.name not in _IPVS_OPTS:
            raise ParseError(f"ipvs: unknown option {o.name}", f, line)
        if o.name in seen:
            raise ParseError(f'ipvs: option "{o.name}" can only be used once', f, line)
        seen.add(o.name)
        if o.name == "--ipvs":
            if o.values:
                raise ParseError(f"ipvs: --ipvs takes no value (bad argument {o.values[0]!r})", f, line)
            continue
        value = _one(o, f, line)
        if o.name == "--vproto":
            text = value.lower()
            if not (digits(text) and int(text) <= 255) and text not in _PROTOS and not _known_protocol(text):
                raise ParseError(f'ipvs: unknown protocol "{value}" specified', f, line)
        elif o.name == "--vaddr":
            addr, slash, mask = value.partition("/")
            if not _octets(addr):
                raise ParseError(f"ipvs: --vaddr {value!r}: expected a dotted IPv4 address", f, line)
            if slash and not (digits(mask) or _octets(mask)):
                raise ParseError(f'ipvs: bad value for option "--vaddr" {value!r}: neither a valid network mask nor '
                                 "valid CIDR", f, line)  # fmt: skip
        elif o.name in ("--vport", "--vportctl"):
            if digits(value):
                if int(value) > 65535:
                    raise ParseError(f"ipvs: {o.name} {value}: above 65535", f, line)
            else:
                _port(value, "tcp", f, line)
        elif o.name == "--vdir":
            if o.negated:
                raise ParseError('ipvs: option "--vdir" cannot be inverted', f, line)
            if value.upper() not in ("ORIGINAL", "REPLY"):
                raise ParseError(f'ipvs: bad value for "--vdir" option: "{value}"', f, line)
        elif value.upper() not in ("GATE", "IPIP", "MASQ"):  # --vmethod
            raise ParseError(f'ipvs: bad value for "--vmethod" option: "{value}"', f, line)
    if not seen:
        raise ParseError("IPVS: at least one option is required", f, line)
    ipvs = next((o for o in m.options if o.name == "--ipvs"), None)
    if ipvs is not None and ipvs.negated and len(seen) > 1:
        raise ParseError("ipvs: ! --ipvs cannot be together with other options", f, line)


def _known_protocol(name: str) -> bool:
    """A protocol name /etc/protocols knows (xtables_parse_protocol falls back to getprotobyname)."""
    try:
        socket.getprotobyname(name)
    except OSError:
        return False
    return True


# ---------------------------------------------------------------------------------- dumps that are not whole

_LEGACY = re.compile(r"#\s*Warning: ip(6?)tables-legacy tables present, use ip6?tables-legacy(?:-save)? to see them")
_BASE_CHAINS = re.compile(r"#\s*Table `(\w+)' contains incompatible base-chains, use 'nft' tool to list them\.?")
_INCOMPATIBLE = re.compile(r"#\s*Table `(\w+)' is incompatible, use 'nft' tool\.?")


def hidden_rules(comment: str) -> str | None:
    """What a comment iptables-nft-save writes about rules it leaves out says, for a warning; None for any
    other comment.  iptables 1.8.9 (iptables/xtables-save.c, nft.c; checked with iptables-nft-save 1.8.9 in a
    network namespace): "# Warning: iptables-legacy tables present, use iptables-legacy-save to see them"
    (on stderr: it is in a file made with ``2>&1`` or pasted from a terminal) when the legacy backend holds
    tables too, whose rules act on packets as well; "# Table `nat' contains incompatible base-chains, use
    'nft' tool to list them." when another program added a base chain to the table that iptables cannot
    show (the table's other chains follow; the hidden chain's rules do not); "# Table `nat' is
    incompatible, use 'nft' tool." (iptables 1.8.8 and earlier) when the whole table is left out."""
    if (legacy := _LEGACY.fullmatch(comment.strip())) is not None:
        six = legacy.group(1)  # ip6tables-nft-save says the same of ip6tables-legacy's tables
        return (f"ip{six}tables-nft-save says iptables-legacy tables are present: their rules act on every packet "
                f"too, and they are not in this file (hairpin traces only the rules it is given); run "
                f"ip{six}tables-legacy-save on the node to see them")  # fmt: skip
    m = _BASE_CHAINS.fullmatch(comment.strip())
    if m:
        return (f"iptables-nft-save says table {m[1]} has base chains it cannot show (another program wrote them "
                f"with nft): their rules act on packets and are not in this file; nft list table ip {m[1]} shows "
                "them")  # fmt: skip
    m = _INCOMPATIBLE.fullmatch(comment.strip())
    if m:
        return (f"iptables-nft-save left table {m[1]} out (it holds rules iptables cannot show): none of that "
                f"table's rules are in this file or traced; nft list table ip {m[1]} shows them")  # fmt: skip
    return None
