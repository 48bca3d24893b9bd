"""The texts the simulator seeds each connection's random streams with (hairpin.backends.streams): a host named
like one of the simulator's own streams (a pod called ``dns``) draws from a stream of its own."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hairpin import scenario, sweep
from hairpin.backends import sim
from hairpin.backends.streams import host_of, host_stream, ipvs_stream, own_stream

OWN = ("client-port", "dns", "nlb0", "nlb1", "clb0")


@pytest.mark.parametrize(
    ("host", "stream"),
    [("node1", "node1"), ("ip-192-168-2-3.eu-west-1.compute.internal", "ip-192-168-2-3.eu-west-1.compute.internal"),
     ("nginx-demo-1", "nginx-demo-1"), ("nlb", "nlb"), ("nlb-proxy", "nlb-proxy"), ("dnsmasq", "dnsmasq"),
     ("dns", "host[dns]"), ("client-port", "host[client-port]"), ("nlb0", "host[nlb0]"), ("clb12", "host[clb12]"),
     ("Node1", "host[Node1]"), ("a:ipvs", "host[a:ipvs]"), ("host[x]", "host[host[x]]"), ("", "host[]")],
)  # fmt: skip
def test_a_host_keeps_its_name_unless_it_could_be_another_stream(host: str, stream: str) -> None:
    assert host_stream(host) == stream
    assert ipvs_stream(host) == f"{stream}:ipvs"
    assert host_of(host_stream(host)) == host_of(ipvs_stream(host)) == host
    assert not own_stream(stream)


@given(st.lists(st.text(max_size=12), min_size=2, max_size=6, unique=True))
def test_every_stream_text_names_one_stream(hosts: list[str]) -> None:
    texts = [*OWN, *(host_stream(h) for h in hosts), *(ipvs_stream(h) for h in hosts)]
    assert len(set(texts)) == len(texts)
    assert [host_of(host_stream(h)) for h in hosts] == hosts == [host_of(ipvs_stream(h)) for h in hosts]


def _renamed(old: str, new: str) -> scenario.Scenario:
    text = scenario.resources.files("hairpin").joinpath("scenarios/seed.yaml").read_text()
    data, lines = scenario.parse(text.replace(old, new), "seed.yaml")
    return scenario.from_dict(data, "seed.yaml", lines=lines)


def test_a_node_called_dns_draws_from_its_own_stream() -> None:
    s = _renamed("node1", "dns")  # the client's node: kube-proxy's endpoint choices and MASQUERADE ports
    assert [n.name for n in s.nodes] == ["dns", "node2", "node3"]
    net = sim.Network(s, verbose=False)
    texts: list[str] = []

    def stream(text: str) -> random.Random:
        texts.append(text)
        return random.Random(text)

    net.stream = stream
    net.connect(conn_id=3, seed=5)
    assert "5:3:host[dns]" in texts and "5:3:node2" in texts and "5:3:nlb0" in texts
    assert "5:3:dns" not in texts  # the DNS answer's own stream (drawn in Network.destination) stays apart


@pytest.mark.parametrize(("old", "new", "mode"), [("node1", "dns", "iptables"), ("netshoot", "nlb0", "ipvs"),
                                             ("node1", "client-port", "ipvs")])  # fmt: skip
def test_hosts_named_like_the_simulators_streams_are_identical_with_and_without_memo(old: str, new: str,
                                                                                     mode: str) -> None:  # fmt: skip
    s = sweep.point_scenario(_renamed(old, new), {"mode": mode})
    on = sim.run(s, 60, seed=2, memo=True)
    off = sim.run(s, 60, seed=2, memo=False)
    assert json.dumps(on.to_json(all_hops=True)) == json.dumps(off.to_json(all_hops=True))
    assert 0 < off.summary.timeouts < 60  # the client's node is one of two in its AZ: about half hairpin
