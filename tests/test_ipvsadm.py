"""``ipvsadm -Sn`` / ``-Ln`` parsing and writing, and `hairpin trace` of a node in kube-proxy's IPVS mode."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hairpin import trace as tr
from hairpin.backends.sim import _routing
from hairpin.errors import ParseError
from hairpin.ipvs import IpvsTable
from hairpin.kube import ipvs as kipvs
from hairpin.kube import node_iptables
from hairpin.model.net import ip_int, ip_str
from hairpin.parsers import ipvsadm
from hairpin.parsers.iproute import routing_files
from hairpin.scenario import seed
from hairpin.topology import build

SAVE = """\
-A -t 10.100.235.20:80 -s rr
-a -t 10.100.235.20:80 -r 192.168.39.2:80 -m -w 1
-a -t 10.100.235.20:80 -r 192.168.49.70:80 -m -w 1
-a -t 10.100.235.20:80 -r 192.168.16.142:80 -m -w 1
-A -t 192.168.2.3:31468 -s rr
-a -t 192.168.2.3:31468 -r 192.168.39.2:80 -m -w 1
-a -t 192.168.2.3:31468 -r 192.168.49.70:80 -m -w 1
-a -t 192.168.2.3:31468 -r 192.168.16.142:80 -m -w 1
"""

LISTING = """\
IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  10.100.235.20:80 rr
  -> 192.168.16.142:80            Masq    1      0          0
  -> 192.168.39.2:80              Masq    1      0          0
  -> 192.168.49.70:80             Masq    1      0          0
TCP  192.168.2.3:31468 rr
  -> 192.168.16.142:80            Masq    1      0          0
  -> 192.168.39.2:80              Masq    1      0          0
  -> 192.168.49.70:80             Masq    1      1          3
"""


def _vs(t: IpvsTable) -> list[tuple[str, str, int, str, list[str]]]:
    return [(v.proto, ip_str(v.addr), v.port, v.scheduler, [f"{ip_str(a)}:{p}" for a, p in v.dests])
            for v in t.services.values()]  # fmt: skip


def test_save_form_is_what_kube_proxy_programs_and_writes_back() -> None:
    t = ipvsadm.parse(SAVE, "ipvsadm")
    assert _vs(t) == _vs(kipvs.virtual_servers(seed(), "node1"))
    assert ipvsadm.dump(t) == SAVE


def test_listing_form() -> None:
    t = ipvsadm.parse(LISTING, "ipvsadm")
    assert _vs(t)[1] == ("tcp", "192.168.2.3", 31468, "rr", ["192.168.16.142:80", "192.168.39.2:80", "192.168.49.70:80"])
    assert ipvsadm.parse(ipvsadm.dump(t)).services.keys() == t.services.keys()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.0.0.2:80 -g -w 1\n",
         "ipvsadm:2: forwarding method -g is not modelled (kube-proxy uses -m)"),
        ("-a -t 10.0.0.1:80 -r 10.0.0.2:80 -m\n", "ipvsadm:1: real server for 10.0.0.1:80 before its -A line"),
        ("-A -t 10.0.0.1 -s rr\n", "ipvsadm:1: expected ADDRESS:PORT, got '10.0.0.1'"),
        ("-A -t kube-dns:53 -s rr\n", "ipvsadm:1: bad address 'kube-dns' (use ipvsadm -n: numeric addresses)"),
        ("-A -f 100 -s rr\n", "ipvsadm:1: firewall-mark services are not modelled"),
        ("-A -t 10.0.0.1:80 -s rr -p 10800\n", "ipvsadm:1: persistent (session affinity) services are not modelled"),
        ("TCP  10.0.0.1:80 rr\n  -> 10.0.0.2:80 Route 1 0 0\n",
         "ipvsadm:2: forwarding method Route is not modelled (kube-proxy uses Masq)"),
        ("hello\n", "ipvsadm:1: not an ipvsadm -Sn or -Ln line: 'hello'"),
    ],
)
def test_bad_input_is_one_line(text: str, message: str) -> None:
    with pytest.raises(ParseError) as e:
        ipvsadm.parse(text, "ipvsadm")
    assert e.value.one_line() == message


_addr = st.tuples(*(st.integers(0, 255) for _ in range(4))).map(lambda t: ".".join(map(str, t)))
_ep = st.tuples(_addr, st.integers(1, 65535)).map(lambda t: f"{t[0]}:{t[1]}")


@given(st.dictionaries(st.tuples(st.sampled_from(["-t", "-u"]), _ep), st.lists(_ep, max_size=4, unique=True),
                       max_size=5))  # fmt: skip
def test_dump_parse_round_trip(services: dict[tuple[str, str], list[str]]) -> None:
    lines = []
    for (flag, vip), reals in services.items():
        lines.append(f"-A {flag} {vip} -s rr")
        lines.extend(f"-a {flag} {vip} -r {r} -m -w 1" for r in reals)
    text = "\n".join(lines) + ("\n" if lines else "")
    t = ipvsadm.parse(text)
    assert ipvsadm.dump(t) == text
    assert [len(v.dests) for v in t.services.values()] == [len(r) for r in services.values()]


def test_rr_scheduler_in_the_parsed_table() -> None:
    vs = ipvsadm.parse(SAVE).lookup("tcp", ip_int("192.168.2.3"), 31468)
    assert vs is not None
    picks = [vs.schedule() for _ in range(4)]
    assert [f"{ip_str(a)}:{p}" for a, p in filter(None, picks)] == [
        "192.168.39.2:80", "192.168.49.70:80", "192.168.16.142:80", "192.168.39.2:80"]  # fmt: skip


# ---------------------------------------------------------------------------- hairpin trace, IPVS mode


def _ipvs_node(tmp: Path, name: str = "node1") -> tr.Node:
    s = seed()
    s = replace(s, kube_proxy=replace(s.kube_proxy, mode="ipvs"))
    ns = build(s).namespace(name)
    (tmp / "iptables-save").write_text(node_iptables(s, name))
    (tmp / "ipset-save").write_text(ns.ipsets)
    (tmp / "ipvsadm").write_text(ipvsadm.dump(kipvs.virtual_servers(s, name)))
    for k, v in routing_files(_routing(ns)).items():
        (tmp / k).write_text(v)
    f = tr.Node.find(tmp)
    assert f["ipvs"] == tmp / "ipvsadm" and f["ipset"] == tmp / "ipset-save"
    return tr.Node.load(f["iptables"], f["routes"], f.get("rules"), f.get("addrs"), name=name,
                        ipset_file=f["ipset"], ipvs_file=f["ipvs"])  # fmt: skip


def test_trace_of_an_ipvs_node_branches_per_real_server(tmp_path: Path) -> None:
    n = _ipvs_node(tmp_path)
    packet, iif = tr.parse_packet("tcp 192.168.27.239:49134 > 192.168.2.3:31468 syn in eth0")
    t = tr.trace(n, packet, iif, reply=True)
    assert [o.probability for o in t.outcomes] == [Fraction(1, 3)] * 3
    assert [str(o.legs[0].out_packet.dest) for o in t.outcomes if o.legs[0].out_packet] == [
        "192.168.39.2:80", "192.168.49.70:80", "192.168.16.142:80"]  # fmt: skip
    assert [o.legs[0].oif for o in t.outcomes] == ["eth0", "eth0", "eni851d8a400b6"]
    assert t.outcomes[0].choices == [
        "IPVS TCP 192.168.2.3:31468 rr -> 192.168.39.2:80 (real server 1 of 3): chosen (p=1/3)"]
    assert t.outcomes[2].choices[-1] == (
        "IPVS TCP 192.168.2.3:31468 rr -> 192.168.49.70:80 (real server 2 of 3): not chosen (p=1/2)")
    for o in t.outcomes:
        req, rep = o.legs
        assert req.out_packet is not None and req.out_packet.source.ip == "192.168.2.3"  # masqueraded
        assert "KUBE-NODE-PORT" in [s.chain for s in req.steps]
        assert rep.oif == "enie348bef9edc"
        assert str(rep.out_packet) == "tcp 192.168.2.3:31468 > 192.168.27.239:49134 SYN,ACK"
        assert o.asymmetric is not None and o.undecided == []


def test_trace_of_an_ipvs_node_without_ipvsadm_is_a_local_delivery(tmp_path: Path) -> None:
    n = _ipvs_node(tmp_path)
    n = tr.Node(n.ruleset, n.routing, n.name, n.ipsets, None)
    packet, iif = tr.parse_packet("tcp 192.168.27.239:49134 > 192.168.2.3:31468 syn in eth0")
    t = tr.trace(n, packet, iif)
    assert [o.legs[0].kind for o in t.outcomes] == ["local"]  # without IPVS the NodePort is just a local port


def test_cli_trace_with_ipvs(tmp_path: Path) -> None:
    import subprocess
    import sys

    _ipvs_node(tmp_path)
    r = subprocess.run([sys.executable, "-m", "hairpin.cli.main", "trace", "--node", str(tmp_path), "--reply",
                        "tcp 192.168.27.239:49134 > 192.168.2.3:31468 syn in eth0"],
                       capture_output=True, text=True, check=False)  # fmt: skip
    assert r.returncode == 1, r.stderr  # the asymmetric return is a finding
    assert "IPVS TCP 192.168.2.3:31468 rr -> 192.168.39.2:80 (real server 1 of 3): chosen (p=1/3)" in r.stdout
    (tmp_path / "ipvsadm").write_text("-A -t 10.0.0.1:80 -s rr -p 60\n")
    r = subprocess.run([sys.executable, "-m", "hairpin.cli.main", "trace", "--node", str(tmp_path),
                        "tcp 192.168.27.239:49134 > 192.168.2.3:31468 syn in eth0"],
                       capture_output=True, text=True, check=False)  # fmt: skip
    assert r.returncode == 2
    assert r.stderr.strip() == f"hairpin: error: {tmp_path}/ipvsadm:1: persistent (session affinity) services are not modelled"
