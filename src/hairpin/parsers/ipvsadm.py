"""``ipvsadm`` output: a node's IPVS virtual servers and real servers, read into ``hairpin.ipvs``.

Two forms are read (ipvsadm(8)):

- ``ipvsadm -Sn`` (``ipvsadm-save -n``), the rules form::

      -A -t 10.100.235.20:80 -s rr
      -a -t 10.100.235.20:80 -r 192.168.39.2:80 -m -w 1

- ``ipvsadm -Ln``, the listing form::

      IP Virtual Server version 1.2.1 (size=4096)
      Prot LocalAddress:Port Scheduler Flags
        -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
      TCP  10.100.235.20:80 rr
        -> 192.168.39.2:80              Masq    1      0          0

``-t`` is TCP, ``-u`` UDP; ``-f`` (firewall-mark services) and forwarding methods other than
masquerading (``-m`` / ``Masq``: kube-proxy's only method) are reported as not modelled.  Real
servers keep their order.  ``dump`` writes the ``-Sn`` form back.

A virtual server listed twice, or a real server twice under one, is refused at its second line: the kernel
holds each once (net/netfilter/ipvs/ip_vs_ctl.c refuses a second service or destination with EEXIST), so one
listing never shows it twice, and two listings pasted together (the later perhaps with other real
servers) do not say which to trust.
"""

from __future__ import annotations

import re
from pathlib import Path

from hairpin import reading
from hairpin.errors import ParseError
from hairpin.ipvs import IpvsTable, VirtualServer
from hairpin.model.net import ip_int, ip_str
from hairpin.parsers import pasted
from hairpin.text import digits, split_lines

__all__ = ["dump", "load", "parse"]

_PROTO = {"-t": "tcp", "--tcp-service": "tcp", "-u": "udp", "--udp-service": "udp"}
_LIST_VS = re.compile(r"^(TCP|UDP)\s+(\S+)\s+(\S+)(?:\s+.*)?$")
_LIST_RS = re.compile(r"^->\s+(\S+)\s+(\S+)\s+(\d+)(?:\s+\d+\s+\d+)?$")


def _endpoint(text: str, file: str | None, line: int) -> tuple[int, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not digits(port) or int(port) > 65535:
        raise ParseError(f"expected ADDRESS:PORT, got {text!r}", file, line)
    try:
        return ip_int(host), int(port)
    except ValueError:
        raise ParseError(f"bad address {host!r} (use ipvsadm -n: numeric addresses)", file, line) from None


@reading.refusing_long_numbers
def parse(text: str, file: str | None = None) -> IpvsTable:
    """``ipvsadm -Sn`` or ``ipvsadm -Ln`` text -> the IPVS table (no connections)."""
    table = IpvsTable()
    current: VirtualServer | None = None
    for lineno, raw in enumerate(split_lines(text), 1):
        line = raw.strip()
        if not line or line.startswith("#") or line.startswith(("IP Virtual Server", "Prot ", "-> RemoteAddress")):
            continue
        toks = line.split()
        if toks[0] in ("-A", "--add-service", "-a", "--add-server"):
            _save_line(table, toks, file, lineno)
            continue
        m = _LIST_VS.match(line)
        if m:
            addr, port = _endpoint(m[2], file, lineno)
            current = VirtualServer(m[1].lower(), addr, port, [], m[3])
            _add_service(table, current, file, lineno)
            continue
        m = _LIST_RS.match(line)
        if m:
            if current is None:
                raise ParseError("a real server before any virtual server", file, lineno)
            if m[2] != "Masq":
                raise ParseError(f"forwarding method {m[2]} is not modelled (kube-proxy uses Masq)", file, lineno)
            _add_dest(current, _endpoint(m[1], file, lineno), file, lineno)
            continue
        if toks[0] in ("FWM", "-f"):
            raise ParseError("firewall-mark services are not modelled", file, lineno)
        raise ParseError(f"not an ipvsadm -Sn or -Ln line: {line[:50]!r}", file, lineno)
    return table


def _save_line(table: IpvsTable, toks: list[str], file: str | None, lineno: int) -> None:
    add_service = toks[0] in ("-A", "--add-service")
    proto = vip = None
    scheduler, real, method = "wlc", None, "-m"
    i = 1
    while i < len(toks):
        t = toks[i]
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        if t in _PROTO:
            if nxt is None:
                raise ParseError(f"{t} needs ADDRESS:PORT", file, lineno)
            proto, vip = _PROTO[t], _endpoint(nxt, file, lineno)
            i += 2
        elif t in ("-f", "--fwmark-service"):
            raise ParseError("firewall-mark services are not modelled", file, lineno)
        elif t in ("-s", "--scheduler") and nxt is not None:
            scheduler = nxt
            i += 2
        elif t in ("-r", "--real-server") and nxt is not None:
            real = _endpoint(nxt, file, lineno)
            i += 2
        elif t in ("-m", "--masquerading", "-g", "--gatewaying", "-i", "--ipip"):
            method = t
            i += 1
        elif t in ("-w", "--weight", "-p", "--persistent", "-M", "--netmask", "-x", "-y", "--pe", "-b", "--sched-flags",
                   "--u-threshold", "--l-threshold") and nxt is not None:  # fmt: skip
            if t in ("-p", "--persistent"):
                raise ParseError("persistent (session affinity) services are not modelled", file, lineno)
            i += 2
        else:
            raise ParseError(f"unknown ipvsadm option {t!r}", file, lineno)
    if proto is None or vip is None:
        raise ParseError("expected -t or -u ADDRESS:PORT", file, lineno)
    if add_service:
        _add_service(table, VirtualServer(proto, vip[0], vip[1], [], scheduler), file, lineno)
        return
    vs = table.lookup(proto, *vip)
    if vs is None:
        raise ParseError(f"real server for {ip_str(vip[0])}:{vip[1]} before its -A line", file, lineno)
    if real is None:
        raise ParseError("-a needs -r ADDRESS:PORT", file, lineno)
    if method not in ("-m", "--masquerading"):
        raise ParseError(f"forwarding method {method} is not modelled (kube-proxy uses -m)", file, lineno)
    _add_dest(vs, real, file, lineno)


_TWICE = "so one ipvsadm listing never shows it twice (two listings pasted together?)"


def _add_service(table: IpvsTable, vs: VirtualServer, file: str | None, lineno: int) -> None:
    if table.lookup(vs.proto, vs.addr, vs.port) is not None:
        raise ParseError(f"virtual server {vs.proto} {ip_str(vs.addr)}:{vs.port} again: the kernel holds it once "
                         f"(ip_vs_ctl.c: EEXIST), {_TWICE}", file, lineno)  # fmt: skip
    table.add(vs)


def _add_dest(vs: VirtualServer, real: tuple[int, int], file: str | None, lineno: int) -> None:
    if real in vs.dests:
        raise ParseError(f"real server {ip_str(real[0])}:{real[1]} of {vs.proto} {ip_str(vs.addr)}:{vs.port} again: "
                         f"the kernel holds it once (ip_vs_ctl.c: EEXIST), {_TWICE}", file, lineno)  # fmt: skip
    vs.dests.append(real)


def dump(table: IpvsTable) -> str:
    """The table in ``ipvsadm -Sn`` form."""
    out: list[str] = []
    for vs in table.services.values():
        flag = "-t" if vs.proto == "tcp" else "-u"
        vip = f"{ip_str(vs.addr)}:{vs.port}"
        out.append(f"-A {flag} {vip} -s {vs.scheduler}")
        out.extend(f"-a {flag} {vip} -r {ip_str(a)}:{p} -m -w 1" for a, p in vs.dests)
    return "\n".join(out) + ("\n" if out else "")


def load(path: str | Path) -> IpvsTable:
    p = Path(path)
    return parse(pasted.read_state(p), str(p))
