"""The AWS VPC CNI's rules, ip rules and veth names (hairpin.kube.cni)."""

from __future__ import annotations

import hashlib
from dataclasses import replace

from hairpin.kube import cni, node_iptables
from hairpin.scenario import seed


def test_cni_rules_on_node1() -> None:
    text = cni.iptables_save(seed(), "node1")
    assert text == "\n".join([
        "*mangle",
        ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
        ":POSTROUTING ACCEPT [0:0]",
        '-A PREROUTING -i eth0 -m comment --comment "AWS, primary ENI" -m addrtype --dst-type LOCAL --limit-iface-in '
        "-j CONNMARK --set-xmark 0x80/0x80",
        '-A PREROUTING -i eni+ -m comment --comment "AWS, primary ENI" -j CONNMARK --restore-mark --nfmask 0x80 '
        "--ctmask 0x80",
        '-A PREROUTING -i vlan+ -m comment --comment "AWS, primary ENI" -j CONNMARK --restore-mark --nfmask 0x80 '
        "--ctmask 0x80",
        "COMMIT",
        "*nat",
        ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]", ":POSTROUTING ACCEPT [0:0]",
        ":AWS-SNAT-CHAIN-0 - [0:0]", ":AWS-SNAT-CHAIN-1 - [0:0]",
        '-A POSTROUTING -m comment --comment "AWS SNAT CHAIN" -j AWS-SNAT-CHAIN-0',
        '-A AWS-SNAT-CHAIN-0 ! -d 192.168.0.0/16 -m comment --comment "AWS SNAT CHAIN" -j AWS-SNAT-CHAIN-1',
        '-A AWS-SNAT-CHAIN-1 ! -o vlan+ -m comment --comment "AWS, SNAT" -m addrtype ! --dst-type LOCAL '
        "-j SNAT --to-source 192.168.2.3 --random-fully",
        "COMMIT",
    ]) + "\n"  # fmt: skip


def test_snat_uses_each_nodes_primary_ip() -> None:
    text = cni.iptables_save(seed(), "node3")
    assert "-j SNAT --to-source 192.168.44.17 --random-fully" in text
    assert "192.168.2.3" not in text


def test_external_snat_removes_snat_rules_but_keeps_connmark() -> None:
    s = seed()
    s = replace(s, cni=replace(s.cni, external_snat=True))
    text = cni.iptables_save(s, "node1")
    assert "SNAT --to-source" not in text and "AWS SNAT CHAIN" not in text
    assert ":AWS-SNAT-CHAIN-0 - [0:0]" in text and ":AWS-SNAT-CHAIN-1 - [0:0]" in text
    assert "--restore-mark --nfmask 0x80 --ctmask 0x80" in text
    assert "--set-xmark 0x80/0x80" in text
    assert "AWS-SNAT-CHAIN-0" not in [line for line in node_iptables(s, "node1").splitlines() if "POSTROUTING -m" in line]


def test_host_veth_name() -> None:
    by_hand = "eni" + hashlib.sha1(b"default.netshoot").hexdigest()[:11]
    assert by_hand == "enie348bef9edc"
    assert cni.host_veth_name("default", "netshoot") == "enie348bef9edc"
    assert len(cni.host_veth_name("a-long-namespace-name", "a-long-pod-name-abcdef")) == 14  # IFNAMSIZ - 1 = 15


def test_ip_rules() -> None:
    rules = cni.ip_rules(seed(), "node1")
    assert [(r.priority, r.dst, r.fwmark, r.fwmask, r.table) for r in rules] == [
        (512, "192.168.27.239/32", None, None, 254),
        (512, "192.168.16.142/32", None, None, 254),
        (1024, None, 0x80, 0x80, 254),
    ]
    assert [str(r) for r in rules] == [
        "512:\tfrom all to 192.168.27.239/32 lookup main",
        "512:\tfrom all to 192.168.16.142/32 lookup main",
        "1024:\tfrom all fwmark 0x80/0x80 lookup main",
    ]
    assert [r.priority for r in cni.ip_rules(seed(), "node2")] == [1024]  # no pods there
    assert all(r.priority != 1536 for n in seed().nodes for r in cni.ip_rules(seed(), n.name))
