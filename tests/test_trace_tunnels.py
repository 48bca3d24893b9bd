"""A packet leaving by a tunnel device: each device's kind read from ``ip -d addr`` (text, JSON), else known
overlay devices by name (hairpin.parsers.linkinfo, hairpin.tunnels), and the line and JSON the trace adds."""

from __future__ import annotations

import ipaddress
import json
import shutil
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from hairpin import trace as tr
from hairpin.parsers import forms
from hairpin.parsers.linkinfo import LinkKind, read_link_kinds
from hairpin.tunnels import Encapsulation, encapsulation

DATA = Path(__file__).parent / "data" / "trace"
TUN = DATA / "tunnels"
SEED = DATA / "seed-node1"
PACKET = "tcp 192.168.27.239:40000 > 10.244.2.7:80 syn in enie348bef9edc"
TAIL = ("the kernel wraps the packet in a UDP datagram from the node to the remote end the device's forwarding "
        "table names, and that datagram goes through the node's OUTPUT and POSTROUTING and its routes as the "
        "node's own packet; hairpin does not follow it")  # fmt: skip
VERDICT = ("    => forwarded out vxlan.calico as tcp 192.168.2.3:56364 > 10.244.2.7:80 SYN (table main: 10.244.2.0/26 "
           "via 10.244.2.0 dev vxlan.calico)")  # fmt: skip


def test_kinds_from_ip_d_addr_text_and_json() -> None:
    text = read_link_kinds((TUN / "ip-d-addr.txt").read_text())
    assert text == {
        "vxlan.calico": LinkKind("vxlan.calico", "vxlan", 4096, 4789, "10.0.0.1", None, False, "ip -d addr"),
        "veth1": LinkKind("veth1", "veth", source="ip -d addr"),
        "veth0": LinkKind("veth0", "veth", source="ip -d addr"),
        "flannel.1": LinkKind("flannel.1", "vxlan", 1, 8472, None, None, False, "ip -d addr"),
    }
    js = read_link_kinds((TUN / "ip-d-j-addr.json").read_text())
    assert js == {dev: LinkKind(k.dev, k.kind, k.vni, k.port, k.local, k.remote, k.external, "ip -d -j addr")
                  for dev, k in text.items()}  # fmt: skip


def test_the_address_readers_still_read_the_d_forms() -> None:
    for name, form in (("ip-d-addr.txt", "ip addr"), ("ip-d-j-addr.json", "ip -j addr (JSON)")):
        text = (TUN / name).read_text()
        assert forms.kind_of(text) == "addrs"
        addrs, links, said = forms.read_addrs(text, name)
        assert ([(a.dev, a.cidr) for a in addrs], links, said) == (
            [("vxlan.calico", "10.244.1.0/32")], {"lo", "vxlan.calico", "veth1", "veth0", "flannel.1"}, form)  # fmt: skip


def test_no_kind_without_d_and_other_kinds_lines() -> None:
    assert read_link_kinds((SEED / "ip-addr").read_text()) == {}
    plain = ("1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN group default qlen 1000\n"
             "    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00\n"
             "    inet 127.0.0.1/8 scope host lo\n")  # fmt: skip
    assert read_link_kinds(plain) == {}
    d = ("2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 9001 qdisc mq state UP group default qlen 1000\n"
         "    link/ether 02:11:22:33:44:55 brd ff:ff:ff:ff:ff:ff promiscuity 0 minmtu 68 maxmtu 9216\n"
         "    addrgenmode eui64 numtxqueues 2 numrxqueues 2 gso_max_size 65536 gso_max_segs 65535\n"
         "    altname ens5\n"
         "3: tunl0@NONE: <NOARP,UP,LOWER_UP> mtu 8981 qdisc noqueue state UNKNOWN group default qlen 1000\n"
         "    link/ipip 0.0.0.0 brd 0.0.0.0 promiscuity 0 minmtu 0 maxmtu 0\n"
         "    ipip any remote any local any ttl inherit nopmtudisc numtxqueues 1 numrxqueues 1\n"
         "    inet 10.244.1.1/32 scope global tunl0\n"
         "4: gnv0: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN group default qlen 1000\n"
         "    link/ether 5a:11:22:33:44:55 brd ff:ff:ff:ff:ff:ff promiscuity 0 minmtu 68 maxmtu 65465\n"
         "    geneve id 7 remote 10.0.0.9 ttl auto dstport 6081 noudpcsum udp6zerocsumrx\n")  # fmt: skip
    assert read_link_kinds(d) == {
        "tunl0": LinkKind("tunl0", "ipip", None, None, None, None, False, "ip -d addr"),
        "gnv0": LinkKind("gnv0", "geneve", 7, 6081, None, "10.0.0.9", False, "ip -d addr"),
    }


def test_well_known_devices_by_name() -> None:
    said = {dev: (e.kind, e.vni, e.port, e.said_by) if (e := encapsulation(dev, {})) else None
            for dev in ("tunl0", "vxlan.calico", "vxlan-v6.calico", "cilium_vxlan", "cilium_geneve", "cilium_ipip4",
                        "cilium_ipip6", "flannel.1", "flannel.42", "flannel.x", "eth0", "cilium_host", None)}  # fmt: skip
    assert said == {
        "tunl0": ("ipip", None, None, "its name"), "vxlan.calico": ("vxlan", None, None, "its name"),
        "vxlan-v6.calico": ("vxlan", None, None, "its name"), "cilium_vxlan": ("vxlan", None, None, "its name"),
        "cilium_geneve": ("geneve", None, None, "its name"), "cilium_ipip4": ("ipip", None, None, "its name"),
        "cilium_ipip6": ("ip6tnl", None, None, "its name"), "flannel.1": ("vxlan", 1, None, "its name"),
        "flannel.42": ("vxlan", 42, None, "its name"), "flannel.x": None, "eth0": None, "cilium_host": None,
        None: None,
    }  # fmt: skip
    # the files win over the name: a veth called vxlan.calico is no tunnel
    assert encapsulation("vxlan.calico", {"vxlan.calico": LinkKind("vxlan.calico", "veth")}) is None
    flannel = encapsulation("flannel.1", {})
    assert flannel is not None and flannel.line() == (
        "flannel.1 is a VXLAN device (by its name: flannel's VXLAN device, VNI 1; ip -d addr show gives its UDP "
        "port): " + TAIL)  # fmt: skip


def test_ip_tunnels_say_the_outer_packet() -> None:
    tunl = encapsulation("tunl0", {})
    assert tunl is not None and tunl.line("192.168.40.7") == (
        "tunl0 is an IP-in-IP device (by its name: the kernel's IP-in-IP device, which Calico's IPIP routes use): "
        "the kernel wraps the packet in an outer IPv4 packet of protocol 4 from the node to the route's gateway "
        "192.168.40.7, and that packet goes through the node's OUTPUT and POSTROUTING and its routes as the node's "
        "own packet; hairpin does not follow it")  # fmt: skip
    assert tunl.line(None).split(": ", 2)[2].startswith(
        "the kernel wraps the packet in an outer IPv4 packet of protocol 4 from the node to the packet's own "
        "destination (the route has no gateway), and")  # fmt: skip
    gnv = Encapsulation("gnv0", "geneve", 7, 6081, "ip -d addr", remote="10.0.0.9")
    assert gnv.line() == ("gnv0 is a Geneve device (VNI 7, UDP 6081, from ip -d addr): the kernel wraps the packet "
                          "in a UDP datagram from the node to 10.0.0.9, and that datagram goes through the node's "
                          "OUTPUT and POSTROUTING and its routes as the node's own packet; hairpin does not follow it")  # fmt: skip
    ext = Encapsulation("cilium_vxlan", "vxlan", 0, 8472, "ip -d -j addr", external=True)
    assert ext.line().startswith("cilium_vxlan is a VXLAN device (VNI 0, UDP 8472, from ip -d -j addr): the kernel "
                                 "wraps the packet in a UDP datagram from the node to the remote end set per packet "
                                 "(the device is in external mode: the program driving it sets it), and")  # fmt: skip


def _node(tmp: Path, addrs: str | None = None) -> Path:
    d = tmp / "node"
    shutil.copytree(SEED, d)
    with (d / "ip-route").open("a") as f:
        f.write("10.244.2.0/26 via 10.244.2.0 dev vxlan.calico onlink\n"
                "local 10.244.1.0 dev vxlan.calico table local proto kernel scope host src 10.244.1.0\n")  # fmt: skip
    if addrs is None:
        with (d / "ip-addr").open("a") as f:
            f.write("3: vxlan.calico    inet 10.244.1.0/32 scope global vxlan.calico\\       valid_lft forever "
                    "preferred_lft forever\n")  # fmt: skip
    else:
        (d / "ip-addr").write_text(addrs)
    return d


def _trace(d: Path, packet: str = PACKET) -> tr.Trace:
    files = tr.Node.find(d)
    node = tr.Node.load(files["iptables"], files["routes"], files.get("rules"), files.get("addrs"))
    p, iif = tr.parse_packet(packet)
    return tr.trace(node, p, iif)


def test_seed_pod_to_remote_pod_by_vxlan_calico_by_name(tmp_path: Path) -> None:
    t = _trace(_node(tmp_path))
    lines = t.text().splitlines()
    at = lines.index(VERDICT)
    line = ("       vxlan.calico is a VXLAN device (by its name: Calico's VXLAN device; ip -d addr show gives its VNI "
            "and UDP port): " + TAIL)  # fmt: skip
    assert lines[at + 1] == line and len(lines) == at + 2
    leg = t.to_json()["outcomes"][0]["legs"][0]
    assert leg["encapsulated"] == {"device": "vxlan.calico", "kind": "vxlan", "vni": None, "port": None,
                                   "from": "its name", "note": line.strip()}  # fmt: skip
    assert list(leg)[-1] == "encapsulated"


def test_seed_pod_to_remote_pod_by_vxlan_calico_from_ip_d_addr(tmp_path: Path) -> None:
    seed = ("1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN group default qlen 1000\n"
            "    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00 promiscuity 0 minmtu 0 maxmtu 0\n"
            "    inet 127.0.0.1/8 scope host lo\n"
            "2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 9001 qdisc mq state UP group default qlen 1000\n"
            "    link/ether 02:11:22:33:44:55 brd ff:ff:ff:ff:ff:ff promiscuity 0 minmtu 68 maxmtu 9216\n"
            "    addrgenmode eui64 numtxqueues 2 numrxqueues 2 gso_max_size 65536 gso_max_segs 65535\n"
            "    inet 192.168.2.3/19 brd 192.168.31.255 scope global eth0\n")  # fmt: skip
    block = (TUN / "ip-d-addr.txt").read_text().split("3: veth1@veth0")[0].split("\n2: ", 1)[1]
    t = _trace(_node(tmp_path, seed + "3: " + block))
    assert t.inputs["addrs"].endswith("ip-addr: ip addr")
    lines = t.text().splitlines()
    at = lines.index(VERDICT)
    line = "       vxlan.calico is a VXLAN device (VNI 4096, UDP 4789, from ip -d addr): " + TAIL
    assert lines[at + 1] == line
    leg = t.to_json()["outcomes"][0]["legs"][0]
    assert leg["encapsulated"] == {"device": "vxlan.calico", "kind": "vxlan", "vni": 4096, "port": 4789,
                                   "from": "ip -d addr", "note": line.strip()}  # fmt: skip
    # the same from the JSON form
    doc = json.loads((TUN / "ip-d-j-addr.json").read_text())
    doc[0]["addr_info"] = [{"family": "inet", "local": "127.0.0.1", "prefixlen": 8, "scope": "host"}]
    doc.append({"ifindex": 9, "ifname": "eth0", "addr_info": [{"family": "inet", "local": "192.168.2.3",
                                                              "prefixlen": 19}]})  # fmt: skip
    t = _trace(_node(tmp_path / "j", json.dumps(doc)))
    enc = t.to_json()["outcomes"][0]["legs"][0]["encapsulated"]
    assert (enc["from"], enc["vni"], enc["port"]) == ("ip -d -j addr", 4096, 4789)


def test_a_packet_leaving_by_a_veth_says_nothing_new(tmp_path: Path) -> None:
    d = _node(tmp_path)
    t = _trace(d, "tcp 192.168.2.3:40000 > 192.168.27.239:80 syn out")
    out = t.text()
    assert "=> forwarded out enie348bef9edc as" in out and "hairpin does not follow" not in out
    assert all("encapsulated" not in leg for o in t.to_json()["outcomes"] for leg in o["legs"])
    veth = {"enie348bef9edc": LinkKind("enie348bef9edc", "veth")}
    assert encapsulation("enie348bef9edc", veth) is None


_JSON_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.text(max_size=12),
                         st.sampled_from(["10.0.0.9", "any", "fd00::1", "4789", "99999999", "\x1b[31mx"]))  # fmt: skip


@settings(max_examples=200)
@given(st.lists(st.fixed_dictionaries({"ifname": st.text(min_size=1, max_size=8)}, optional={
    "linkinfo": st.fixed_dictionaries({"info_kind": st.sampled_from(["vxlan", "geneve", "ipip", "veth", "x"])}, optional={
        "info_data": st.dictionaries(st.sampled_from(["id", "port", "local", "remote", "external"]), _JSON_VALUES)})}),
    max_size=4))  # fmt: skip
def test_hostile_link_info_is_left_out_never_trusted(doc: list[dict[str, object]]) -> None:
    """Whatever ``ip -d -j addr`` JSON claims, a VNI is 24 bits, a port 16, an address an address, or not said."""
    for k in read_link_kinds(json.dumps(doc)).values():
        assert k.vni is None or 0 <= k.vni < 2**24
        assert k.port is None or 0 <= k.port <= 65535
        for a in (k.local, k.remote):
            assert a is None or str(ipaddress.ip_address(a)) == a


@given(st.text(max_size=300))
def test_any_text_reads_without_error(text: str) -> None:
    kinds = read_link_kinds(text)
    assert all(isinstance(k.kind, str) for k in kinds.values())
