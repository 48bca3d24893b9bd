"""kube-proxy nftables mode: the generated ``table ip kube-proxy`` (hairpin.kube.nftables)."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hairpin.kube.nftables import COMMENT_MAX, chain_base, element_comment, endpoint_chain, ruleset, service_chain
from hairpin.scenario import Scenario
from hairpin.scenario import seed as iptables_seed

SVC = "nginx-demo/service-nginx-demo/tcp/"
EP2 = "endpoint-MMBNG555-" + SVC + "__192.168.39.2/80"
EP3 = "endpoint-UVQWZLS7-" + SVC + "__192.168.49.70/80"
EP1 = "endpoint-UB3QZH6V-" + SVC + "__192.168.16.142/80"


def seed(version: str = "1.33") -> Scenario:
    """The seed's cluster with kube-proxy in nftables mode."""
    s = iptables_seed()
    return dataclasses.replace(s, kube_proxy=dataclasses.replace(s.kube_proxy, mode="nftables", version=version))


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines()]


def test_chain_names_match_kube_proxy_examples() -> None:
    # The examples in pkg/proxy/nftables/proxier.go's servicePortChainNameBase / ...EndpointChainNameBase.
    assert chain_base("ns1/svc1/tcp/p80") == "ULMVA6XW-ns1/svc1/tcp/p80"
    assert chain_base("ns1/svc1/tcp/p80__10.180.0.1/80") == "5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80"


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-/_.", min_size=1, max_size=300))
def test_chain_base_is_hash_prefixed_and_capped(name: str) -> None:
    out = chain_base(name)
    assert len(out) <= 240
    assert out[8] == "-"
    assert set(out[:8]) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    if len(name) + 9 <= 240:
        assert out[9:] == name
    else:
        assert out.endswith("...") and len(out) == 240


def test_seed_node1_dispatch() -> None:
    s = seed()
    svc = s.services[0]
    sp = svc.ports[0]
    assert service_chain(svc, sp) == "service-7WYOEMTF-" + SVC
    assert endpoint_chain(svc, sp, "192.168.39.2", 80) == EP2
    lines = _lines(ruleset(s, "node1"))
    assert f"elements = {{ 10.100.235.20 . tcp . 80 : goto service-7WYOEMTF-{SVC} }}" in lines
    assert f"elements = {{ tcp . 31468 : goto external-7WYOEMTF-{SVC} }}" in lines
    assert f"numgen random mod 3 vmap {{ 0 : goto {EP2}, 1 : goto {EP3}, 2 : goto {EP1} }}" in lines
    i = lines.index(f"chain external-7WYOEMTF-{SVC} {{")
    assert lines[i + 1 : i + 4] == ["jump mark-for-masquerade", f"goto service-7WYOEMTF-{SVC}", "}"]
    i = lines.index(f"chain {EP1} {{")
    assert lines[i + 1 : i + 4] == [
        "ip saddr 192.168.16.142 jump mark-for-masquerade",
        "meta l4proto tcp dnat to 192.168.16.142:80",
        "}",
    ]
    i = lines.index("chain masquerading {")
    assert lines[i + 1 : i + 4] == [
        "meta mark & 0x00004000 == 0x00000000 return",
        "meta mark set meta mark ^ 0x00004000",
        "masquerade fully-random",
    ]
    assert "type nat hook prerouting priority dstnat; policy accept;" in lines
    assert "type nat hook output priority -100; policy accept;" in lines
    assert "type nat hook postrouting priority srcnat; policy accept;" in lines
    assert "type filter hook prerouting priority dstnat - 10; policy accept;" in lines
    # nodePortAddresses at the nftables default: the node's primary address
    assert "ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports" in lines
    i = lines.index("set nodeport-ips {")
    assert lines[i + 1 : i + 5] == ["type ipv4_addr", 'comment "IPs that accept NodePort traffic"',
                                    "elements = { 192.168.2.3 }", "}"]  # fmt: skip
    i = lines.index("set cluster-ips {")
    assert lines[i + 3] == "elements = { 10.100.235.20 }"


def test_same_on_every_node_for_cluster_policy_but_the_nodeport_address() -> None:
    s = seed()
    texts = {n.name: ruleset(s, n.name).replace(n.ip, "NODE") for n in s.nodes}
    assert texts["node1"] == texts["node2"] == texts["node3"]
    assert "elements = { NODE }" in texts["node1"]


def test_local_policy_dispatches_to_local_endpoints_only() -> None:
    s = seed()
    svc = dataclasses.replace(s.services[0], external_traffic_policy="Local")
    s = dataclasses.replace(s, services=(svc,))
    lines = _lines(ruleset(s, "node1"))
    i = lines.index(f"chain external-7WYOEMTF-{SVC} {{")
    assert lines[i + 1 : i + 5] == [
        'fib saddr type local jump mark-for-masquerade comment "masquerade local traffic"',
        f'fib saddr type local goto service-7WYOEMTF-{SVC} comment "short-circuit local traffic"',
        f"goto local-7WYOEMTF-{SVC}",
        "}",
    ]
    assert f"numgen random mod 1 vmap {{ 0 : goto {EP1} }}" in lines
    # node2 has no local endpoint: NodePort traffic from outside is dropped.
    lines2 = _lines(ruleset(s, "node2"))
    assert 'elements = { tcp . 31468 comment "nginx-demo/service-nginx-demo" : drop }' in lines2
    assert not any(line.startswith("chain local-") for line in lines2)


def test_no_endpoints_rejects() -> None:
    s = seed()
    svc = dataclasses.replace(s.services[0], endpoints=())
    s = dataclasses.replace(s, services=(svc,))
    lines = _lines(ruleset(s, "node1"))
    assert (
        'elements = { 10.100.235.20 . tcp . 80 comment "nginx-demo/service-nginx-demo" : goto reject-chain }' in lines
    )
    assert 'elements = { tcp . 31468 comment "nginx-demo/service-nginx-demo" : goto reject-chain }' in lines
    assert not any("numgen" in line for line in lines)


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("nft") is None, reason="needs root and nft")
@pytest.mark.parametrize("version", ["1.30", "1.33", "1.34", "1.36"])
@pytest.mark.parametrize("variant", ["seed", "local", "empty"])
def test_loads_in_kernel_and_lists_back_identically(variant: str, version: str) -> None:
    s = seed(version)
    if variant != "seed":
        change = {"external_traffic_policy": "Local"} if variant == "local" else {"endpoints": ()}
        s = dataclasses.replace(s, services=(dataclasses.replace(s.services[0], **change),))  # type: ignore[arg-type]
    text = ruleset(s, "node2")
    ns = "hpnft-" + uuid.uuid4().hex[:8]
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"], input=text, text=True, check=True)
        listed = subprocess.run(
            ["ip", "netns", "exec", ns, "nft", "list", "table", "ip", "kube-proxy"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=True)
    assert listed == text


def test_layouts_per_version() -> None:
    """1.30 - 1.33: filter chains at dstnat - 10 plus filter-output-post-dnat at dstnat + 10 (stored
    proxier.go of that line); 1.34+: PR #132456's pre-dnat chains and filter chains at priority 0."""
    old, new = _lines(ruleset(seed("1.33"), "node1")), _lines(ruleset(seed("1.34"), "node1"))
    i = old.index("chain filter-output-post-dnat {")
    assert old[i + 1 : i + 4] == ["type filter hook output priority -90; policy accept;",
                                  "ct state new jump cluster-ips-check", "}"]  # fmt: skip
    i = old.index("chain filter-output {")
    assert old[i + 1 : i + 5] == ["type filter hook output priority -110; policy accept;",
                                  "ct state new jump service-endpoints-check", "ct state new jump firewall-check", "}"]  # fmt: skip
    assert "chain filter-output-post-dnat {" not in new
    i = new.index("chain filter-output {")
    assert new[i + 1 : i + 5] == ["type filter hook output priority filter; policy accept;",
                                  "ct state new jump service-endpoints-check", "ct state new jump cluster-ips-check", "}"]  # fmt: skip
    i = new.index("chain filter-output-pre-dnat {")
    assert new[i + 1 : i + 4] == ["type filter hook output priority -110; policy accept;",
                                  "ct state new jump firewall-check", "}"]  # fmt: skip
    i = new.index("chain cluster-ips-check {")
    assert new[i + 1 : i + 3] == ['ip daddr @cluster-ips reject comment "Reject traffic to invalid ports of ClusterIPs"', "}"]
    svc_cidr = dataclasses.replace(seed("1.34"), kube_proxy=dataclasses.replace(seed("1.34").kube_proxy,
                                                                                service_cidr="10.100.0.0/16"))  # fmt: skip
    assert 'ip daddr 10.100.0.0/16 drop comment "Drop traffic to unallocated ClusterIPs"' in _lines(ruleset(svc_cidr, "node1"))


def test_nftables_mode_before_129_is_refused_with_file_and_line(tmp_path: object) -> None:
    """kube-proxy's nftables mode first shipped in 1.29 (alpha, KEP-3866): earlier versions are refused."""
    from pathlib import Path

    from hairpin.errors import ScenarioError
    from hairpin.scenario import load

    src = Path("examples/nftables-mode.yaml").read_text()
    assert '  version: "1.33"\n' in src
    bad = Path(str(tmp_path)) / "nft.yaml"
    bad.write_text(src.replace('  version: "1.33"\n', '  version: "1.28"\n'))
    line = src.splitlines().index('  version: "1.33"') + 1
    with pytest.raises(ScenarioError) as e:
        load(bad)
    assert str(e.value) == (
        f"{bad}:{line}: kube_proxy.version: '1.28' has no nftables mode (kube-proxy's nftables mode first shipped "
        'in 1.29, as an alpha feature); use "1.30" or later'
    )
    bad.write_text(src.replace('  version: "1.33"\n', '  version: "1.29"\n'))
    with pytest.raises(ScenarioError) as e:
        load(bad)
    assert str(e.value) == (
        f"{bad}:{line}: kube_proxy.version: '1.29': the 1.29 alpha layout of the nftables mode is not modelled "
        '(1.30 moved its filter chains, firewall checks and source-range rules); use "1.30" or later'
    )
    bad.write_text(src.replace('  version: "1.33"\n', '  version: "1.30"\n'))
    assert load(bad).kube_proxy.version == "1.30"


# ------------------------------------------------------------------ comments: nft takes 128 bytes at most

NS = "platform-services-team-shared-workloads-namespace-number-000001"  # 63 characters, the API server's limit
NAME = "an-api-service-with-a-name-as-long-as-the-api-server-allows-x01"  # 63 characters


def test_a_port_name_over_128_bytes_is_cut_in_the_element_comment() -> None:
    assert len(NS) == len(NAME) == 63
    s = seed("1.36")
    svc = dataclasses.replace(s.services[0], namespace=NS, name=NAME, endpoints=())
    s = dataclasses.replace(s, services=(svc,))
    spn = f"{NS}/{NAME}"  # the seed's port has no name: ns/name, 127 bytes, kept whole
    assert len(spn) == 127 and element_comment(spn) == spn
    lines = _lines(ruleset(s, "node1"))
    assert f'elements = {{ 10.100.235.20 . tcp . 80 comment "{spn}" : goto reject-chain }}' in lines
    ports = tuple(dataclasses.replace(p, name="http") for p in svc.ports)
    s = dataclasses.replace(s, services=(dataclasses.replace(svc, ports=ports),))
    cut = f"{NS}/{NAME}:"  # ns/name:http is 132 bytes; nft takes 128
    assert len(cut) == COMMENT_MAX == 128
    lines = _lines(ruleset(s, "node1"))
    assert f'elements = {{ 10.100.235.20 . tcp . 80 comment "{cut}" : goto reject-chain }}' in lines
    assert f'elements = {{ tcp . 31468 comment "{cut}" : goto reject-chain }}' in lines
    assert not any(f"{cut}http" in line for line in lines)


def test_a_scenario_with_such_a_port_warns_in_nftables_mode_only(tmp_path: object) -> None:
    from pathlib import Path

    import yaml

    from hairpin.scenario import from_dict

    src = Path("examples/nftables-mode.yaml").read_text()
    d = yaml.safe_load(src)
    d["services"][0].update(namespace=NS, name=NAME)
    for p in d["pods"][1:]:
        p["namespace"] = NS
    d["client"]["service"] = f"{NS}/{NAME}"
    s = from_dict(d, "long.yaml")
    assert s.warnings == (
        "long.yaml: services[0].ports[0].name: namespace/name:port is 132 bytes, over the 128 nft takes as a "
        "comment: kube-proxy 1.33 (nftables) writes it whole on the port's no-endpoint map elements, so every sync "
        "fails on a node writing one and no Service works there (1.37 cuts it, kubernetes PR #139516); hairpin writes "
        "it cut to 128 bytes, as 1.37 does",
    )
    d["kube_proxy"]["version"] = "1.37"  # cuts the comment itself: nothing to say
    assert from_dict(d, "long.yaml").warnings == ()
    d["kube_proxy"]["version"] = "1.33"
    d["kube_proxy"]["mode"] = "iptables"  # the comment match takes 255 (linux xt_comment.h XT_MAX_COMMENT_LEN 256)
    assert from_dict(d, "long.yaml").warnings == ()
