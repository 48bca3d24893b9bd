"""The AWS VPC CNI's connection marks as nftables (``cni.connmark_backend: nftables``; aws/amazon-vpc-cni-k8s
v1.23.0 ``pkg/networkutils/nftables_connmark.go``): the exact table and each rule against the source, the
iptables rules that stay, the scenario key, the evaluator's statements, the simulator (the same outcomes as
the iptables backend), ``scenario nodes`` and ``trace`` (a table listed back by a real kernel, text and JSON),
and the kernel itself (root): the text loads, lists back and compiles to the source's expressions."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from hairpin import scenario
from hairpin.backends import sim
from hairpin.errors import ScenarioError
from hairpin.kube import cni, node_nft
from hairpin.model.net import Flags, Packet, ip_int
from hairpin.netfilter.evaluate import Context
from hairpin.netfilter.nft import parse
from hairpin.netfilter.nft_tables import NftTables
from hairpin.parsers.nft_ruleset import read_nft, read_tables

SEED = Path("src/hairpin/scenarios/seed.yaml")
DATA = Path(__file__).parent / "data" / "trace"
FIXTURE = DATA / "seed-node1-awscni"
POD_VETH = "enie348bef9edc"  # the seed's client pod netshoot on node1


def with_cni(backend: str = "nftables", version: str = "1.23", mode: str = "iptables", **kw: bool) -> scenario.Scenario:
    s = scenario.seed()
    proxy = replace(s.kube_proxy, mode=mode, version={"nftables": "1.33", "ipvs": "1.18"}.get(mode, "1.18"))
    return replace(s, kube_proxy=proxy, cni=replace(s.cni, version=version, connmark_backend=backend, **kw))


#: ``hairpin.kube.cni.nft_ruleset`` for the seed's node1 (VPC CIDR 192.168.0.0/16), as ``nft list ruleset``
#: printed it after ``nft -f`` (tests/data/trace/seed-node1-awscni/nft-ruleset is that listing)
TABLE = """table ip aws-cni {
\tchain nat-prerouting {
\t\ttype nat hook prerouting priority dstnat + 10; policy accept;
\t\tfib daddr type local return
\t\tiifname "eni*" counter packets 0 bytes 0 jump snat-mark
\t\tcounter packets 0 bytes 0 meta mark set ct mark & 0x00000080
\t}

\tchain snat-mark {
\t\tcounter packets 0 bytes 0 ip daddr 192.168.0.0/16 return
\t\tcounter packets 0 bytes 0 ct mark set ct mark | 0x00000080
\t}
}
"""

#: the nft commands nftables_connmark.go@v1.23.0 gives, in its comments, for what each function writes
SOURCE = {
    "ensureBaseChain": "nft add chain ip aws-cni nat-prerouting '{ type nat hook prerouting priority -90; policy accept; }'",
    "addFibLocalReturnRule": "nft insert rule ip aws-cni nat-prerouting fib daddr type local return",
    "addJumpRule": 'nft add rule ip aws-cni nat-prerouting iifname "eni*" counter jump snat-mark',
    "insertCIDRReturnRule": "nft insert rule ip aws-cni snat-mark counter ip daddr <cidr> return",
    "addSetMarkRule": "nft add rule ip aws-cni snat-mark counter ct mark set ct mark | 0x80",
}
#: addRestoreRule's comment reads "counter ct mark & 0x80 meta mark set ct mark & 0x80", but its expressions
#: (Counter; Ct load mark; Bitwise & mark ^ 0; Meta set mark) are this rule: no ct mark match before the statement
RESTORE = "nft add rule ip aws-cni nat-prerouting counter meta mark set ct mark & 0x80"

#: the expressions each function of nftables_connmark.go@v1.23.0 adds, as ``nft --debug=netlink`` prints them
#: (x86: NativeEndian words, so "eni" is 0x00696e65)
BYTECODE = {
    "addFibLocalReturnRule": ["[ fib daddr type => reg 1 ]", "[ cmp eq reg 1 0x00000002 ]", "[ immediate reg 0 return ]"],
    "addJumpRule": ["[ meta load iifname => reg 1 ]", "[ cmp eq reg 1 0x00696e65 ]", "[ counter pkts 0 bytes 0 ]",
                    "[ immediate reg 0 jump -> snat-mark ]"],
    "addRestoreRule": ["[ counter pkts 0 bytes 0 ]", "[ ct load mark => reg 1 ]",
                       "[ bitwise reg 1 = ( reg 1 & 0x00000080 ) ^ 0x00000000 ]", "[ meta set mark with reg 1 ]"],
    "insertCIDRReturnRule": ["[ counter pkts 0 bytes 0 ]", "[ payload load 4b @ network header + 16 => reg 1 ]",
                             "[ bitwise reg 1 = ( reg 1 & 0x0000ffff ) ^ 0x00000000 ]", "[ cmp eq reg 1 0x0000a8c0 ]",
                             "[ immediate reg 0 return ]"],
    "addSetMarkRule": ["[ counter pkts 0 bytes 0 ]", "[ ct load mark => reg 1 ]",
                       "[ bitwise reg 1 = ( reg 1 & 0xffffff7f ) ^ 0x00000080 ]", "[ ct set mark with reg 1 ]"],
}  # fmt: skip


def _listed(command: str) -> str:
    """A source command's rule as ``nft list`` prints it: counters with their numbers, marks as 32-bit words."""
    rule = command.split(" ", 6)[6] if " rule " in command else command
    return (rule.replace("counter", "counter packets 0 bytes 0").replace("0x80", "0x00000080")
            .replace("<cidr>", "192.168.0.0/16"))  # fmt: skip


# ------------------------------------------------------------------------------------------ the text


def test_the_table_on_the_seeds_node1() -> None:
    assert cni.nft_ruleset(with_cni(), "node1") == TABLE
    assert (FIXTURE / "nft-ruleset").read_text() == TABLE  # what the kernel listed back


def test_each_rule_is_the_sources() -> None:
    lines = [x.strip() for x in TABLE.splitlines()]
    chain = SOURCE["ensureBaseChain"]
    assert "priority -90" in chain and lines[2] == "type nat hook prerouting priority dstnat + 10; policy accept;"
    base = lines[lines.index("chain nat-prerouting {") + 2 : lines.index("chain nat-prerouting {") + 5]
    assert base == [_listed(SOURCE["addFibLocalReturnRule"]), _listed(SOURCE["addJumpRule"]), _listed(RESTORE)]
    marks = lines[lines.index("chain snat-mark {") + 1 : lines.index("chain snat-mark {") + 3]
    assert marks == [_listed(SOURCE["insertCIDRReturnRule"]), _listed(SOURCE["addSetMarkRule"])]


def test_the_iptables_rules_lose_only_the_nat_connection_marks() -> None:
    ipt, nft = cni.iptables_save(with_cni("iptables"), "node1"), cni.iptables_save(with_cni(), "node1")
    gone = [x for x in ipt.splitlines() if x not in nft.splitlines()]
    assert gone == [
        ":AWS-CONNMARK-CHAIN-0 - [0:0]",
        '-A PREROUTING -i eni+ -m comment --comment "AWS, outbound connections" -j AWS-CONNMARK-CHAIN-0',
        '-A PREROUTING -m comment --comment "AWS, CONNMARK" -j CONNMARK --restore-mark --nfmask 0x80 --ctmask 0x80',
        '-A AWS-CONNMARK-CHAIN-0 -d 192.168.0.0/16 -m comment --comment "AWS CONNMARK CHAIN" -j RETURN',
        '-A AWS-CONNMARK-CHAIN-0 -m comment --comment "AWS, CONNMARK" -j CONNMARK --set-xmark 0x80/0x80',
    ]
    assert [x for x in nft.splitlines() if x not in ipt.splitlines()] == []


def test_external_snat_deletes_the_table_and_the_iptables_chain() -> None:
    """nftConnmark.Cleanup: ``nft delete table ip aws-cni`` and the iptables connmark rules and chain."""
    s = with_cni(external_snat=True)
    assert cni.nft_ruleset(s, "node1") == "" and node_nft(s, "node1") == ""
    assert "CONNMARK-CHAIN" not in cni.iptables_save(s, "node1")
    assert cni.iptables_save(s, "node1") == cni.iptables_save(with_cni("iptables", external_snat=True), "node1")


def test_kube_proxys_table_comes_first() -> None:
    from hairpin.kube.nftables import ruleset

    s = with_cni(mode="nftables")
    assert node_nft(s, "node2") == ruleset(s, "node2") + cni.nft_ruleset(s, "node2")
    assert node_nft(with_cni("iptables", mode="nftables"), "node2") == ruleset(s, "node2")
    assert node_nft(with_cni("iptables"), "node2") == ""


# ------------------------------------------------------------------------------------------ the scenario key


def _doc_with(tmp_path: Path, cni_doc: dict[str, object]) -> tuple[Path, int]:
    doc = yaml.safe_load(SEED.read_text())
    doc["cni"] = cni_doc
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    line = next(i for i, x in enumerate(path.read_text().splitlines(), 1) if x.strip().startswith("connmark_backend:"))
    return path, line


@pytest.mark.parametrize(
    ("cni_doc", "message"),
    [
        ({"version": "1.22", "connmark_backend": "nftables"},
         'cni.connmark_backend: nftables is written by VPC CNI 1.23 and later (PR #3588, v1.23.0: table ip aws-cni); '
         'cni.version is "1.22"'),
        ({"connmark_backend": "nftables"},
         'cni.connmark_backend: nftables is written by VPC CNI 1.23 and later (PR #3588, v1.23.0: table ip aws-cni); '
         'cni.version is "1.7"'),
        ({"version": "1.23", "connmark_backend": "bpf"},
         "cni.connmark_backend: must be one of iptables, nftables (got 'bpf')"),
    ],
)  # fmt: skip
def test_a_backend_the_release_does_not_write_is_one_line(tmp_path: Path, cni_doc: dict[str, object],
                                                          message: str) -> None:  # fmt: skip
    path, line = _doc_with(tmp_path, cni_doc)
    with pytest.raises(ScenarioError) as e:
        scenario.load(path)
    assert str(e.value) == f"{path}:{line}: {message}"
    p = subprocess.run([sys.executable, "-m", "hairpin.cli.main", "scenario", "validate", str(path)],
                       capture_output=True, text=True, check=False)  # fmt: skip
    assert (p.returncode, p.stderr) == (2, f"hairpin: error: {path}:{line}: {message}\n")


def test_the_backend_loads_from_a_file_and_1_24_has_it(tmp_path: Path) -> None:
    path, _ = _doc_with(tmp_path, {"version": "1.24", "connmark_backend": "nftables"})
    assert scenario.load(path).cni.connmark_backend == "nftables"
    assert scenario.seed().cni.connmark_backend == "iptables"


def test_the_schema_knows_the_key() -> None:
    from test_schema import schema_errors  # tests/ is on sys.path (rootdir conftest, no package)

    doc = yaml.safe_load(SEED.read_text())
    doc["cni"] = {"version": "1.23", "connmark_backend": "nftables"}
    assert schema_errors(doc) == []
    doc["cni"]["connmark_backend"] = "bpf"
    assert schema_errors(doc) != []


# ------------------------------------------------------------------------------------------ the evaluator


class _Node:
    def is_local(self, addr: int, iface: str | None = None) -> bool:
        return addr == ip_int("192.168.2.3")


def _run(dst: str, iif: str | None, ctmark: int = 0, mark: int = 0x4000, ctstate: str = "NEW") -> Context:
    ctx = Context(Packet(ip_int("192.168.27.239"), 40000, ip_int(dst), 443, Flags.SYN), _Node(), "PREROUTING",  # type: ignore[arg-type]
                  iif=iif, mark=mark, ctmark=ctmark, ctstate=ctstate)  # fmt: skip
    v = parse(TABLE, "aws-cni.nft").run("nat", "PREROUTING", ctx)
    assert (v.verdict, v.nat) == ("ACCEPT", None)
    return ctx


@pytest.mark.parametrize(
    ("dst", "iif", "ctmark", "mark"),
    [
        ("8.8.8.8", POD_VETH, 0x80, 0x80),  # leaving the VPC from a pod: connmarked, and the mark restored
        ("8.8.8.8", "eth0", 0x0, 0x0),  # not from a pod veth: only the restore (the whole mark replaced)
        ("8.8.8.8", "enI1", 0x0, 0x0),  # the prefix is matched byte for byte
        ("8.8.8.8", None, 0x0, 0x0),  # no input interface
        ("192.168.49.70", POD_VETH, 0x0, 0x0),  # inside the VPC CIDR: returned before the mark
        ("192.168.2.3", POD_VETH, 0x0, 0x4000),  # a local address: fib daddr type local return, nothing else
    ],
)
def test_the_tables_rules_in_the_evaluator(dst: str, iif: str | None, ctmark: int, mark: int) -> None:
    ctx = _run(dst, iif)
    assert (ctx.ctmark, ctx.mark) == (ctmark, mark)


def test_without_a_conntrack_entry_the_ct_rules_stop() -> None:
    """nft_ct_get_eval without an entry: NFT_BREAK, so neither mark is touched (and the rule's statements stop)."""
    ctx = _run("8.8.8.8", POD_VETH, ctstate="UNTRACKED")
    assert (ctx.ctmark, ctx.mark) == (0, 0x4000)


def test_exact_names_and_the_two_tables_chains_of_one_name() -> None:
    named = parse(TABLE.replace('"eni*"', f'"{POD_VETH}"'), "x.nft")
    ctx = Context(Packet(1, 1, ip_int("8.8.8.8"), 1, Flags.SYN), _Node(), "PREROUTING", iif=POD_VETH + "x")  # type: ignore[arg-type]
    named.run("nat", "PREROUTING", ctx)
    assert ctx.ctmark == 0
    both = read_tables(node_nft(with_cni(mode="nftables"), "node1"), "node1.nft")
    assert isinstance(both, NftTables) and [t.name for t in both.tables] == ["kube-proxy", "aws-cni"]
    assert [c.priority for c in both.base_chains("nat", "PREROUTING")] == [-100, -90]


# ------------------------------------------------------------------------------------------ the simulator


@pytest.mark.parametrize("mode", ["iptables", "nftables", "ipvs"])
def test_the_simulator_gives_the_same_outcomes_with_either_backend(mode: str) -> None:
    """Same seed, same connections: the JSON outcomes (target, outcome, timing) are equal, and the nftables
    backend's table is what acted."""
    ipt = sim.run(with_cni("iptables", mode=mode), 40, seed=3)
    nft = sim.run(with_cni(mode=mode), 40, seed=3)
    keep = ("client", "service", "target", "outcome", "elapsed_s")

    def outcomes(r: sim.Run) -> list[dict[str, object]]:
        return [{k: c[k] for k in keep if k in c} for c in r.to_json()["connections"]]

    assert outcomes(nft) == outcomes(ipt)
    assert nft.to_json()["summary"] == ipt.to_json()["summary"]
    assert 0 < nft.summary.timeouts < 40
    actions = [h.action for c in nft.connections for h in c.hops]
    assert any('nft iifname "eni*" counter packets 0 bytes 0 jump snat-mark' in a for a in actions)
    assert not any("AWS-CONNMARK-CHAIN-0" in a for a in actions)
    assert any("AWS-CONNMARK-CHAIN-0" in a for c in ipt.connections for a in (h.action for h in c.hops))


# ------------------------------------------------------------------------------------------ node files + trace


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "400", "PYTHONPATH": "src"}
    return subprocess.run([sys.executable, "-m", "hairpin.cli.main", *args], capture_output=True, text=True,
                          env=env, check=False)  # fmt: skip


PACKETS = [
    ("--reply", f"tcp 192.168.27.239:40000 > 192.168.168.103:80 syn in {POD_VETH}"),
    ("--reply", "tcp 192.168.27.239:40000 > 192.168.2.3:31468 syn in eth0"),
    ("--reply", f"tcp 192.168.27.239:40000 > 8.8.8.8:443 syn in {POD_VETH}"),
]


def _outcomes(node: str, *nft: str) -> list[list[str]]:
    out = []
    for flag, packet in PACKETS:
        p = _cli("trace", "--node", node, *nft, flag, packet)
        assert p.returncode in (0, 1), p.stderr
        out.append([x.strip() for x in p.stdout.splitlines() if x.strip().startswith("=>")])
    return out


def test_scenario_nodes_and_trace_give_the_iptables_forms_paths(tmp_path: Path) -> None:
    doc = yaml.safe_load(SEED.read_text())
    found = {}
    for backend in ("iptables", "nftables"):
        doc["cni"] = {"version": "1.23", "connmark_backend": backend}
        (tmp_path / f"{backend}.yaml").write_text(yaml.safe_dump(doc))
        p = _cli("scenario", "nodes", str(tmp_path / f"{backend}.yaml"), str(tmp_path / backend))
        assert p.returncode == 0, p.stderr
        found[backend] = _outcomes(str(tmp_path / backend / "node1"))
    node1 = tmp_path / "nftables" / "node1"
    assert (node1 / "nft-ruleset").read_text() == TABLE
    assert not (tmp_path / "iptables" / "node1" / "nft-ruleset").exists()
    for name in ("iptables-save", "ip-route", "ip-rule", "ip-addr"):  # the fixture is these files
        assert (node1 / name).read_text() == (FIXTURE / name).read_text(), name
    assert found["nftables"] == found["iptables"] and all(found["iptables"])
    # leaving the VPC: connmarked by table ip aws-cni, so the fwmark rule routes it
    via = "forwarded out eth0 as tcp 192.168.2.3:56364 > 8.8.8.8:443 SYN"
    assert found["nftables"][2][0] == (f"=> {via} (rule 1024: from all fwmark 0x80/0x80 lookup main; "
                                       "table main: default via 192.168.0.1 dev eth0)")  # fmt: skip
    # the fixture (a real kernel's listing, text and nft -j) traces the same
    assert _outcomes(str(FIXTURE)) == found["iptables"]
    assert _outcomes(str(FIXTURE), "--nft", str(DATA / "seed-node1-awscni.nft.json")) == found["iptables"]


def test_trace_says_what_it_read() -> None:
    p = _cli("trace", "--node", str(FIXTURE), PACKETS[2][1])
    assert p.returncode == 0 and p.stderr == ""
    assert (f"read nft: {FIXTURE / 'nft-ruleset'}: nft list ruleset (table ip aws-cni; no table ip kube-proxy: "
            "iptables mode, rules from iptables-save)") in p.stdout.splitlines()  # fmt: skip
    assert ("    nat    snat-mark                line 11    nft counter packets 0 bytes 0 ct mark set ct mark | "
            "0x00000080  [ctmark=0x80]") in p.stdout.splitlines()  # fmt: skip


def test_read_nft_alone_and_with_kube_proxys_table() -> None:
    table, form, warnings = read_nft(TABLE, "r.nft", have_iptables=True)
    assert table is not None and not isinstance(table, NftTables) and table.name == "aws-cni"
    assert (form, warnings) == ("nft list ruleset (table ip aws-cni; no table ip kube-proxy: iptables mode, rules "
                                "from iptables-save)", [])  # fmt: skip
    both, form, _ = read_nft(node_nft(with_cni(mode="nftables"), "node1"), "r.nft", have_iptables=True)
    assert isinstance(both, NftTables) and form == "nft list ruleset (table ip kube-proxy, table ip aws-cni)"
    with pytest.raises(Exception, match=r"no table ip kube-proxy \(kube-proxy's nftables mode\)"):
        read_nft(TABLE, "r.nft", have_iptables=False)


# ------------------------------------------------------------------------------------------ the kernel (root)

root = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("nft") is None or shutil.which("ip") is None,
                          reason="needs root, nft and ip")  # fmt: skip


def _in_netns(*commands: tuple[list[str], str | None]) -> list[str]:
    ns = "hpcni-" + uuid.uuid4().hex[:8]
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        return [subprocess.run(["ip", "netns", "exec", ns, *cmd], input=stdin, capture_output=True, text=True,
                               check=True).stdout for cmd, stdin in commands]  # fmt: skip
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=True)


def _rules(debug: str) -> list[list[str]]:
    """``nft --debug=netlink``'s rule blocks (after the "ip aws-cni CHAIN" line), their expression lines."""
    blocks, current = [], None
    for line in debug.splitlines():
        if line.startswith("ip aws-cni "):
            current = []
            blocks.append(current)
        elif current is not None and line.strip().startswith("["):
            current.append(line.strip())
        else:
            current = None
    return blocks


@root
@pytest.mark.parametrize("mode", ["iptables", "nftables"])
def test_the_text_loads_and_lists_back_identically(mode: str) -> None:
    text = node_nft(with_cni(mode=mode), "node1")
    _, listed = _in_netns((["nft", "-f", "-"], text), (["nft", "list", "ruleset"], None))
    assert listed == text


@root
def test_the_kernel_holds_the_sources_expressions() -> None:
    """Each rule compiles to what the Go code adds; the CIDR rule, which nft shortens to a 2-byte load of the
    /16, is also added in the Go code's form (a 4-byte load and a mask, through nft -j) and lists the same."""
    debug, _ = _in_netns((["nft", "--debug=netlink", "-f", "-"], TABLE), (["nft", "list", "ruleset"], None))
    rules = _rules(debug)
    assert rules[:3] == [BYTECODE["addFibLocalReturnRule"], BYTECODE["addJumpRule"], BYTECODE["addRestoreRule"]]
    assert rules[4] == BYTECODE["addSetMarkRule"]
    assert rules[3] == ["[ counter pkts 0 bytes 0 ]", "[ payload load 2b @ network header + 16 => reg 1 ]",
                        "[ cmp eq reg 1 0x0000a8c0 ]", "[ immediate reg 0 return ]"]  # fmt: skip
    go_form = (
        '{"nftables": [{"add": {"rule": {"family": "ip", "table": "aws-cni", "chain": "snat-mark", "expr": ['
        '{"counter": {"packets": 0, "bytes": 0}}, {"match": {"op": "==", "left": {"&": [{"payload": '
        '{"protocol": "ip", "field": "daddr"}}, "255.255.0.0"]}, "right": "192.168.0.0"}}, {"return": null}]}}}]}'
    )
    empty = TABLE.replace("\t\tcounter packets 0 bytes 0 ip daddr 192.168.0.0/16 return\n", "")
    _, debug, listed = _in_netns((["nft", "-f", "-"], empty), (["nft", "--debug=netlink", "-j", "-f", "-"], go_form),
                                 (["nft", "list", "chain", "ip", "aws-cni", "snat-mark"], None))  # fmt: skip
    assert _rules(debug) == [BYTECODE["insertCIDRReturnRule"]]
    assert "\t\tcounter packets 0 bytes 0 ip daddr 192.168.0.0/16 return\n" in listed


def test_a_written_scenario_keeps_the_backend() -> None:
    from hairpin.kube.from_cluster import scenario_to_dict

    for s in (with_cni(), with_cni("iptables")):
        d = scenario_to_dict(s)
        assert ("connmark_backend" in d["cni"]) == (s.cni.connmark_backend == "nftables")
        assert scenario.from_dict(d).cni == s.cni
