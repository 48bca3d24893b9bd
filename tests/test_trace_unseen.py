"""What a node's files cannot show a trace (``hairpin.unseen``): tables not given (a pasted ``iptables -S`` is
the filter table alone), Cilium and Calico's eBPF dataplane beside netfilter, a NodePort with no kube-proxy."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hairpin import trace as tr
from hairpin.errors import InputError

DATA = Path(__file__).parent / "data" / "trace"
SEED = DATA / "seed-node1"
V6 = DATA / "seed-node1-v6"
CILIUM = DATA / "golden" / "inputs" / "cilium"
SYN = "tcp 192.168.27.239:49134 > 192.168.2.3:31468 syn in eth0"


def dash_s(save: str, table: str) -> str:
    """``iptables -t TABLE -S`` as iptables 1.8 prints it, from an iptables-save dump: -P, then -N, then -A."""
    block = re.search(rf"^\*{table}\n(.*?)^COMMIT", save, re.S | re.M)
    assert block is not None
    p, n, a = [], [], []
    for line in block.group(1).splitlines():
        if line.startswith(":"):
            chain, policy = line[1:].split()[:2]
            (n if policy == "-" else p).append(f"-N {chain}" if policy == "-" else f"-P {chain} {policy}")
        elif line.startswith("-A"):
            a.append(line)
    return "\n".join(p + n + a) + "\n"


def node_with(tmp_path: Path, files: dict[str, str], src: Path = SEED) -> Path:
    d = tmp_path / "node"
    d.mkdir(parents=True)
    for f in src.iterdir():
        if f.name not in ("iptables-save", "ip6tables-save", "SOURCE.md", "case.json"):
            (d / f.name).write_text(f.read_text())
    for name, text in files.items():
        (d / name).write_text(text)
    return d


def load(d: Path, family: int = 4) -> tr.Node:
    files, ipt = tr.Node.find_all(d, family)
    return tr.Node.load(ipt, files["routes"], files.get("rules"), files.get("addrs"), family=family,
                        ipset_file=files.get("ipset"), ipvs_file=files.get("ipvs"))  # fmt: skip


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "80"}
    return subprocess.run([sys.executable, "-m", "hairpin.cli.main", "trace", *args], capture_output=True, text=True,
                          check=False, env=env)  # fmt: skip


# --------------------------------------------------------------------------------- tables not given


def test_a_pasted_iptables_dash_s_without_nat_is_refused(tmp_path: Path) -> None:
    """``iptables -S`` prints the filter table: kube-proxy's filter chains say its nat table exists, and tracing
    without it would send every Service packet on untranslated."""
    d = node_with(tmp_path, {"iptables-S": dash_s((SEED / "iptables-save").read_text(), "filter")})
    with pytest.raises(InputError) as e:
        load(d)
    assert str(e.value) == (f"{d / 'iptables-S'}: kube-proxy's rules are here (chain KUBE-SERVICES in table filter) "
                            "but table nat is not: every Service address and NodePort would go untranslated. "
                            "`iptables -S` prints table filter only: add `iptables -t nat -S` and `iptables -t mangle "
                            "-S`, or give `iptables-save`")  # fmt: skip
    r = run_cli("--node", str(d), SYN)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.splitlines() == [f"hairpin: error: {e.value}"]


#: the warning for the seed's ``1024: from all fwmark 0x80/0x80 lookup main`` when no rule given can set 0x80
UNSET = ("{rules}: the rule `1024: from all fwmark 0x80/0x80 lookup main` selects packets marked 0x80/0x80, but no "
         "rule in the node's netfilter files can set those bits, so this trace never takes it (not given: table "
         "mangle and nft list ruleset). The AWS VPC CNI sets 0x80 in table mangle (CONNMARK), or from v1.23 on "
         "nf_tables nodes in nft's table ip aws-cni: give the whole `iptables-save` (not -t nat) and `nft list "
         "ruleset`")  # fmt: skip


def _tables(save: str, *names: str) -> str:
    """An iptables-save dump cut to the tables ``names`` (``iptables-save -t nat`` for one)."""
    return "".join(f"*{n}\n" + save.split(f"*{n}\n", 1)[1].split("COMMIT\n", 1)[0] + "COMMIT\n" for n in names)


def test_iptables_save_of_the_nat_table_alone_warns_that_filter_is_empty(tmp_path: Path) -> None:
    d = node_with(tmp_path, {"iptables-save": _tables((SEED / "iptables-save").read_text(), "nat")})
    n = load(d)
    assert set(n.ruleset.tables) == {"nat"}
    t = tr.trace(n, *tr.parse_packet(SYN))
    assert t.warnings == [f"{d / 'iptables-save'}: kube-proxy's rules are in table nat but table filter is not given: "
                          "taken as empty, so kube-proxy's filter rules (KUBE-FORWARD's drop of invalid packets, the "
                          "rejects of Services without endpoints, its firewall) are not applied: add `iptables -S` or "
                          "give `iptables-save`", UNSET.format(rules=d / "ip-rule")]  # fmt: skip


def test_a_dump_without_the_cnis_connmark_rules_says_the_fwmark_rule_is_never_taken(tmp_path: Path) -> None:
    """``iptables-save -t nat -t filter`` of the seed's node1: mangle's CONNMARK rules are gone, and nothing else
    sets 0x80; the whole dump, or one whose nat table sets and restores the mark, says nothing."""
    save = (SEED / "iptables-save").read_text()
    d = node_with(tmp_path, {"iptables-save": _tables(save, "nat", "filter")})
    assert tr.trace(load(d), *tr.parse_packet(SYN)).warnings == [UNSET.format(rules=d / "ip-rule")]
    nat = _tables(save, "nat")
    nat_marks = nat.replace(":POSTROUTING ACCEPT", ":AWS-X - [0:0]\n:POSTROUTING ACCEPT", 1).replace(
        "COMMIT\n", "-A PREROUTING -j CONNMARK --restore-mark --nfmask 0x80 --ctmask 0x80\n"
        "-A AWS-X -j CONNMARK --set-xmark 0x80/0x80\nCOMMIT\n")  # fmt: skip
    d2 = node_with(tmp_path / "2", {"iptables-save": nat_marks + _tables(save, "filter")})
    assert tr.trace(load(d2), *tr.parse_packet(SYN)).warnings == []


@pytest.mark.parametrize(
    ("rules", "warned"),
    [
        ("-A PREROUTING -j MARK --set-xmark 0x80/0x80", False),
        ("-A PREROUTING -j MARK --set-mark 0x1", True),  # zeroes every bit, then sets 0x1: never 0x80
        ("-A PREROUTING -j MARK --or-mark 0x100", True),  # bits 0x100 only
        ("-A PREROUTING -j MARK --xor-mark 0x80", False),
        ("-A PREROUTING -j MARK --and-mark 0xffffff7f", True),  # clears bits, never sets one
        ("-A PREROUTING -j MARK --and-mark 0xffffffff", True),  # changes nothing
        ("-A PREROUTING -j MARK --set-xmark 0x4000/0x4000", True),  # kube-proxy's masquerade bit
        ("-A PREROUTING -j CONNMARK --set-xmark 0x80/0x80", True),  # the connection's mark, never restored
        ("-A PREROUTING -j CONNMARK --restore-mark --nfmask 0x80 --ctmask 0x80", True),  # nothing sets the ctmark
        ("-A PREROUTING -j CONNMARK --set-xmark 0x80/0x80\n-A PREROUTING -j CONNMARK --restore-mark --mask 0x80", False),
        ("-A PREROUTING -j CONNMARK --set-xmark 0x80/0x80\n-A PREROUTING -j CONNMARK --restore-mark --ctmask 0x40",
         True),  # restores other bits
        # --nfmask names the packet bits cleared first; the connection's bits of --ctmask (all) are XORed in:
        # (mark & ~0x40) ^ (ctmark & 0xffffffff) sets 0x80 (xt_connmark.c connmark_tg_shift; the kernel routes so)
        (
            "-A PREROUTING -j CONNMARK --set-xmark 0x80/0x80\n-A PREROUTING -j CONNMARK --restore-mark --nfmask 0x40",
            False,
        ),
        (
            "-A PREROUTING -j CONNMARK --set-xmark 0x80/0x80\n"
            "-A PREROUTING -j CONNMARK --restore-mark --nfmask 0x80 --ctmask 0x40",
            True,
        ),
        ("-A PREROUTING -j MARK --set-xmark 0x80/0x80\n-A PREROUTING -j CONNMARK --save-mark\n"
         "-A PREROUTING -j CONNMARK --restore-mark", False),
    ],
)
def test_which_mark_targets_can_take_the_fwmark_rule(tmp_path: Path, rules: str, warned: bool) -> None:
    save = (SEED / "iptables-save").read_text()
    mangle = "*mangle\n:PREROUTING ACCEPT [0:0]\n" + rules + "\nCOMMIT\n"
    d = node_with(tmp_path, {"iptables-save": mangle + _tables(save, "nat", "filter")})
    got = tr.trace(load(d), *tr.parse_packet(SYN)).warnings
    assert got == ([UNSET.format(rules=d / "ip-rule").replace("table mangle and ", "")] if warned else [])


def test_nfts_mark_statements_and_conntracks_marks_can_set_it(tmp_path: Path) -> None:
    save = _tables((SEED / "iptables-save").read_text(), "nat", "filter")
    for i, nft in enumerate(["table ip aws-cni {\n\tchain c {\n\t\ttype filter hook prerouting priority mangle; policy "
                             "accept;\n\t\tmeta mark set ct mark & 0x00000080\n\t}\n}\n"]):  # fmt: skip
        d = node_with(tmp_path / str(i), {"iptables-save": save, "nft-ruleset": nft})
        files, ipt = tr.Node.find_all(d)
        n = tr.Node.load(ipt, files["routes"], files["rules"], files["addrs"], nft_file=files["nft"])
        assert tr.trace(n, *tr.parse_packet(SYN)).warnings == []
    ct = "tcp      6 431999 ESTABLISHED src=192.168.27.239 dst=8.8.8.8 sport=1 dport=2 src=8.8.8.8 dst=192.168.2.3 " \
         "sport=2 dport=1 [ASSURED] mark=128 use=1\n"  # fmt: skip
    mangle = "*mangle\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j CONNMARK --restore-mark --mask 0x80\nCOMMIT\n"
    d = node_with(tmp_path / "ct", {"iptables-save": mangle + save, "conntrack": ct})
    files, ipt = tr.Node.find_all(d)
    n = tr.Node.load(ipt, files["routes"], files["rules"], files["addrs"], conntrack_file=files["conntrack"])
    assert tr.trace(n, *tr.parse_packet(SYN)).warnings == []
    n = tr.Node.load(ipt, files["routes"], files["rules"], files["addrs"])  # the same without the entries
    assert len(tr.trace(n, *tr.parse_packet(SYN)).warnings) == 1


AWSCNI = DATA / "seed-node1-awscni"  # scenario nodes of the seed with VPC CNI 1.23 and its nftables marks


def test_the_cnis_nft_marks_not_given_are_said() -> None:
    files = {k: v for k, v in tr.Node.find(AWSCNI).items()}
    ipt = AWSCNI / "iptables-save"
    n = tr.Node.load(ipt, files["routes"], files["rules"], files["addrs"])  # nft-ruleset left out
    assert tr.trace(n, *tr.parse_packet(SYN)).warnings == [
        f"{ipt}: the AWS VPC CNI's SNAT chain AWS-SNAT-CHAIN-0 is v1.16 or later's, whose releases mark connections "
        "leaving the VPC in table nat (AWS-CONNMARK-CHAIN-0), or from v1.23 on nf_tables nodes in nft's table ip "
        "aws-cni; neither is in the files, so the replies of such connections are traced without the mark the "
        "node's fwmark rule routes by: give `nft list ruleset` too (hairpin collect saves it)"]
    n = tr.Node.load(ipt, files["routes"], files["rules"], files["addrs"], nft_file=files["nft"])
    assert tr.trace(n, *tr.parse_packet(SYN)).warnings == []


def test_dash_s_outputs_name_the_tables_they_leave_out(tmp_path: Path) -> None:
    save = (SEED / "iptables-save").read_text()
    d = node_with(tmp_path, {"iptables-S": "".join(dash_s(save, t) for t in ("mangle", "nat", "filter"))})
    t = tr.trace(load(d), *tr.parse_packet(SYN))
    assert t.warnings == [f"{d / 'iptables-S'}: `iptables -S` output gives tables mangle, nat, filter; raw not "
                          "given: taken as empty. Add `iptables -t TABLE -S` for each, or give `iptables-save`"]
    assert len(t.outcomes) == 3  # the nat table's three endpoints: the trace itself is unchanged


def test_a_missing_mangle_table_is_said_with_the_fwmark_rules_that_need_it(tmp_path: Path) -> None:
    save = (SEED / "iptables-save").read_text()
    d = node_with(tmp_path, {"nat": dash_s(save, "nat"), "filter": dash_s(save, "filter")})
    t = tr.trace(load(d), *tr.parse_packet(SYN))
    assert t.warnings == [f"the `iptables -S` outputs ({d / 'filter'}, {d / 'nat'}) give tables nat, filter; raw, "
                          "mangle not given: taken as empty. Add `iptables -t TABLE -S` for each, or give "
                          "`iptables-save`", UNSET.format(rules=d / "ip-rule")]  # fmt: skip


def test_a_whole_iptables_save_says_nothing_of_tables() -> None:
    n = tr.Node.load(SEED / "iptables-save", SEED / "ip-route", SEED / "ip-rule", SEED / "ip-addr")
    assert tr.trace(n, *tr.parse_packet(SYN)).warnings == [] and n.not_modelled == []


def test_ip6tables_dash_s_without_nat_names_ip6tables(tmp_path: Path) -> None:
    d = node_with(tmp_path, {"ip6tables-S": dash_s((V6 / "ip6tables-save").read_text(), "filter")}, V6)
    with pytest.raises(InputError) as e:
        load(d, 6)
    assert str(e.value).endswith("`ip6tables -S` prints table filter only: add `ip6tables -t nat -S` and "
                                 "`ip6tables -t mangle -S`, or give `ip6tables-save`")  # fmt: skip


# --------------------------------------------------------------------------------- datapaths outside netfilter

CILIUM_NO_PROXY = ("this node runs Cilium (chain CILIUM_FORWARD): with no kube-proxy rules in the files, its eBPF "
                   "programs most likely translate Services (a ClusterIP at the pod's connect(), a NodePort on the "
                   "node's devices) and route packets past netfilter. hairpin does not model it: this trace is what "
                   "netfilter and the routing tables do, not necessarily where the packet goes")  # fmt: skip


def test_a_cilium_node_without_kube_proxy_is_said_to_be_unmodelled() -> None:
    n = tr.Node.load(CILIUM / "iptables-save", CILIUM / "ip-route")
    assert n.not_modelled == ["Cilium"]
    t = tr.trace(n, *tr.parse_packet("tcp 10.0.1.7:40000 > 192.168.168.103:80 syn in lxc1234"))
    assert t.warnings[0] == CILIUM_NO_PROXY
    assert t.to_json()["not_modelled"] == ["Cilium"]


def test_the_first_line_says_netfilter_and_routing_only() -> None:
    r = run_cli("--iptables-save", str(CILIUM / "iptables-save"), "--routes", str(CILIUM / "ip-route"), "--reply",
                "tcp 10.0.1.7:40000 > 192.168.168.103:80 syn in lxc1234")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == (
        "hairpin trace: 1 outcome(s), every reply returns the way its request came (netfilter and routing only: "
        "this node runs Cilium, whose eBPF programs hairpin does not model; see the warnings) (the outcome rests on "
        "a match hairpin could not decide, taken as not matching: see 'could not decide')")
    r = run_cli("--iptables-save", str(CILIUM / "iptables-save"), "--routes", str(CILIUM / "ip-route"), "--format",
                "json", "tcp 10.0.1.7:40000 > 192.168.168.103:80 syn in lxc1234")  # fmt: skip
    assert json.loads(r.stdout)["not_modelled"] == ["Cilium"]


def test_cilium_beside_kube_proxy_is_the_milder_warning(tmp_path: Path) -> None:
    save = (SEED / "iptables-save").read_text().replace(
        "*filter\n", "*filter\n:CILIUM_INPUT - [0:0]\n", 1)
    d = node_with(tmp_path, {"iptables-save": save})
    n = load(d)
    t = tr.trace(n, *tr.parse_packet(SYN))
    assert n.not_modelled == ["Cilium"]
    assert t.warnings == ["this node runs Cilium (chain CILIUM_INPUT): its eBPF programs on the node's devices can "
                          "route or drop packets before netfilter sees them (BPF host routing, network policy). hairpin "
                          "does not model it: this trace is what netfilter and the routing tables do, not necessarily "
                          "where the packet goes"]  # fmt: skip
    assert len(t.outcomes) == 3


def test_cilium_is_told_by_its_devices_too(tmp_path: Path) -> None:
    addr = (SEED / "ip-addr").read_text() + (
        "9: cilium_host    inet 10.0.1.144/32 scope global cilium_host\\       valid_lft forever preferred_lft forever\n")
    route = (SEED / "ip-route").read_text() + "local 10.0.1.144 dev cilium_host table local proto kernel scope host src 10.0.1.144\n"
    d = node_with(tmp_path, {"iptables-save": (SEED / "iptables-save").read_text(), "ip-addr": addr, "ip-route": route})
    n = load(d)
    assert n.not_modelled == ["Cilium"]
    assert n.datapath_warnings[0].startswith("this node runs Cilium (device cilium_host): its eBPF programs on the ")


def test_calicos_ebpf_dataplane_is_told_by_its_devices(tmp_path: Path) -> None:
    addr = (SEED / "ip-addr").read_text() + (
        "10: bpfin.cali    inet 169.254.1.1/32 scope global bpfin.cali\\       valid_lft forever preferred_lft forever\n"
        "11: bpfout.cali    inet 169.254.1.2/32 scope global bpfout.cali\\       valid_lft forever preferred_lft forever\n")
    route = (SEED / "ip-route").read_text() + (
        "local 169.254.1.1 dev bpfin.cali table local proto kernel scope host src 169.254.1.1\n"
        "local 169.254.1.2 dev bpfout.cali table local proto kernel scope host src 169.254.1.2\n")
    d = node_with(tmp_path, {"iptables-save": (SEED / "iptables-save").read_text(), "ip-addr": addr, "ip-route": route})
    n = load(d)
    assert n.not_modelled == ["Calico's eBPF dataplane"]
    assert n.datapath_warnings == [
        "this node runs Calico's eBPF dataplane (device bpfin.cali and bpfout.cali): its eBPF programs on the node's "
        "devices can route or drop packets before netfilter sees them (BPF host routing, network policy). hairpin "
        "does not model it: this trace is what netfilter and the routing tables do, not necessarily where the packet "
        "goes"]  # fmt: skip


# --------------------------------------------------------------------------------- no kube-proxy

CNI_ONLY = """*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -i eth0 -m comment --comment "AWS, primary ENI" -m addrtype --dst-type LOCAL --limit-iface-in -j CONNMARK --set-xmark 0x80/0x80
-A PREROUTING -i eni+ -m comment --comment "AWS, primary ENI" -j CONNMARK --restore-mark --nfmask 0x80 --ctmask 0x80
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:AWS-SNAT-CHAIN-0 - [0:0]
-A POSTROUTING -m comment --comment "AWS SNAT CHAIN" -j AWS-SNAT-CHAIN-0
-A AWS-SNAT-CHAIN-0 ! -d 192.168.0.0/16 -m comment --comment "AWS, SNAT" -m addrtype ! --dst-type LOCAL -j SNAT --to-source 192.168.2.3 --random-fully
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
COMMIT
"""


NFT_HINT = (" kube-proxy's nftables mode keeps its rules in `nft list ruleset`: give it beside iptables-save; else, "
            "are these the node's files, and is kube-proxy running on it?")  # fmt: skip
NO_PROXY = "the node's files hold no kube-proxy rules (no KUBE-SERVICES chain, no table ip kube-proxy, no ipvsadm)"


@pytest.mark.parametrize(("packet", "nodeport"), [
    (SYN, True),
    ("tcp 192.168.27.239:49134 > 192.168.2.3:8080 syn in eth0", False),  # not a NodePort-range port
    ("tcp 192.168.27.239:49134 > 192.168.39.2:31468 syn in eth0", False),  # not the node's address: forwarded
    ("tcp 192.168.2.3:49134 > 192.168.2.3:31468 syn out", False),  # sent by the node: no 'in' device
])  # fmt: skip
def test_no_kube_proxy_rules_are_said_sharper_for_a_nodeport(tmp_path: Path, packet: str, nodeport: bool) -> None:
    n = load(node_with(tmp_path, {"iptables-save": CNI_ONLY}))
    t = tr.trace(n, *tr.parse_packet(packet))
    if nodeport:
        want = (f"port 31468 is in the NodePort range (30000-32767) but {NO_PROXY}: nothing here translates it, so "
                "it is traced as a local port.")  # fmt: skip
    else:
        want = "The" + NO_PROXY[3:] + ": no Service address or NodePort is translated in this trace."
    assert t.warnings == [want + NFT_HINT]


def test_kube_proxys_nft_table_or_rules_silence_it() -> None:
    n = tr.Node.load(SEED / "iptables-save", SEED / "ip-route", SEED / "ip-rule", SEED / "ip-addr")
    assert tr.trace(n, *tr.parse_packet(SYN)).warnings == []
    nft = tr.Node.load(None, SEED / "ip-route", SEED / "ip-rule", SEED / "ip-addr", nft_file=DATA / "nft-node1.nft")
    assert not any("kube-proxy rules" in w for w in tr.trace(nft, *tr.parse_packet(SYN)).warnings)


# --------------------------------------------------------------------------------- tables the route file lacks


def test_a_rule_for_a_table_ip_route_does_not_print_is_said(tmp_path: Path) -> None:
    """`ip route` prints table main only: a pod on a secondary ENI has its rule 1536 `from POD lookup 2`, and table
    2 (its ENI's default route) is not in the file, so the trace falls through to main; said, with the fix."""
    main_only = "".join(x for x in (SEED / "ip-route").read_text().splitlines(True) if "table local" not in x)
    rule = (SEED / "ip-rule").read_text() + "1536:\tfrom 192.168.27.239 lookup 2\n"
    d = node_with(tmp_path, {"iptables-save": (SEED / "iptables-save").read_text(), "ip-route": main_only,
                             "ip-rule": rule})  # fmt: skip
    t = tr.trace(load(d), *tr.parse_packet("tcp 192.168.27.239:40000 > 10.0.0.1:443 syn in enie348bef9edc"))
    assert t.warnings == [f"{d / 'ip-rule'}:7: a rule looks up table 2 (line 7), which {d / 'ip-route'} does not hold "
                          "(it lists table main only, as `ip route` prints it): taken as empty, so those packets go on "
                          "to the next rule; give `ip -4 route show table all`"]  # fmt: skip
    assert t.outcomes[0].legs[0].oif == "eth0"  # table main's default route, as the files say


def test_a_route_file_with_every_table_says_nothing_of_an_empty_one(tmp_path: Path) -> None:
    rule = (SEED / "ip-rule").read_text() + "1536:\tfrom 192.168.27.239 lookup 2\n"
    d = node_with(tmp_path, {"iptables-save": (SEED / "iptables-save").read_text(), "ip-rule": rule})
    t = tr.trace(load(d), *tr.parse_packet("tcp 192.168.27.239:40000 > 10.0.0.1:443 syn in enie348bef9edc"))
    assert t.warnings == []


# --------------------------------------------------------------------------------- IPVS without its table

EXAMPLES = Path(__file__).parent.parent / "examples"
IPVS_SYN = "tcp 10.2.0.200:40000 > 10.2.0.10:30080 syn in eth0"


def test_kube_proxys_ipvs_mode_without_ipvsadm_is_said(tmp_path: Path) -> None:
    """An IPVS-mode node's files without `ipvsadm -Sn` (EKS's AMIs lack ipvsadm): the NodePort SYN is traced as
    delivered locally, which IPVS would have translated; the first line and a warning say so."""
    from hairpin.cli.main import main

    with pytest.raises(SystemExit) as exc:
        main(["scenario", "nodes", str(EXAMPLES / "ipvs-mode.yaml"), str(tmp_path / "nodes")])
    assert exc.value.code in (0, None)
    d = tmp_path / "nodes" / "node-a"
    with_table = tr.trace(load(d), *tr.parse_packet(IPVS_SYN))
    assert with_table.not_modelled == [] and len(with_table.outcomes) == 3
    (d / "ipvsadm").unlink()
    n = load(d)
    t = tr.trace(n, *tr.parse_packet(IPVS_SYN))
    assert n.not_modelled == ["kube-proxy's IPVS mode"]
    assert t.warnings[0] == (
        "kube-proxy runs in IPVS mode on this node (chain KUBE-NODE-PORT in table nat and device kube-ipvs0) but no "
        "`ipvsadm -Sn` output was given: IPVS, not these rules, translates Service addresses and NodePorts, so a "
        "Service packet is traced here as if nothing translated it (delivered locally, or routed as it is). Give "
        "`ipvsadm -Sn` (install ipvsadm on the node if it lacks it; hairpin collect saves it)")  # fmt: skip
    assert [o.legs[0].kind for o in t.outcomes] == ["local"]
    r = run_cli("--node", str(d), "--reply", IPVS_SYN)
    assert r.returncode == 1
    assert r.stdout.splitlines()[0].endswith(
        "the seed's failure (no Service translated: kube-proxy's IPVS mode and no ipvsadm output; see the warnings)")


# ---------------------------------------------------------------------------------------------- a cut Service chain

CUT = ("KUBE-SVC-7D7VEXWNCKBQRZ7W's last endpoint jump is a random one (--probability 0.50000000000), but kube-proxy "
       "ends a Service's chain with an unconditional jump to its last endpoint: the rules after it look cut off (a "
       "paste that lost its last lines?); packets no rule picks fall through, as the kernel would do with these rules")


def test_an_iptables_dash_s_paste_that_lost_its_last_line_is_warned(tmp_path: Path) -> None:
    # `iptables -t nat -S` of the seed's node1 without its last line (the KUBE-SVC chain's unconditional jump to
    # its third endpoint): a third of the SYNs fall through to the node's own port 31468, as the kernel would do
    # with these rules; until 2026-12-02 without a word
    nat = dash_s((SEED / "iptables-save").read_text(), "nat").splitlines(keepends=True)
    assert nat[-1].startswith("-A KUBE-SVC-7D7VEXWNCKBQRZ7W ") and "statistic" not in nat[-1]
    cut = tmp_path / "nat"
    cut.write_text("".join(nat[:-1]))
    other = []
    for table in ("mangle", "filter"):
        other.append(tmp_path / table)
        other[-1].write_text(dash_s((SEED / "iptables-save").read_text(), table))
    for files in ([cut, *other], [*other, cut]):  # the first file or a later one
        n = tr.Node.load(files, SEED / "ip-route", SEED / "ip-rule", SEED / "ip-addr")
        t = tr.trace(n, *tr.parse_packet(SYN))
        assert f"{cut}:{len(nat) - 1}: {CUT}" in t.warnings
        assert sorted(o.legs[0].verdict.split(" as ")[0] for o in t.outcomes) == [
            "delivered locally", "forwarded out eth0", "forwarded out eth0"]  # fmt: skip
    # whole, no such warning
    whole = tmp_path / "whole"
    whole.write_text("".join(nat))
    n = tr.Node.load([whole, *other], SEED / "ip-route", SEED / "ip-rule", SEED / "ip-addr")
    t = tr.trace(n, *tr.parse_packet(SYN))
    assert not [w for w in t.warnings if "last endpoint jump" in w]
