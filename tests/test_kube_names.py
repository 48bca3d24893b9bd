"""kube-proxy chain names and probabilities (hairpin.kube.names)."""

from __future__ import annotations

import base64
import hashlib
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hairpin.kube import names


def test_service_chain_computed_by_hand() -> None:
    # base32(sha256("nginx-demo/service-nginx-demo:" + "tcp"))[:16], written out here, not via names
    digest = hashlib.sha256(b"nginx-demo/service-nginx-demo:tcp").digest()
    by_hand = base64.b32encode(digest).decode()[:16]
    assert by_hand == "7D7VEXWNCKBQRZ7W"  # the seed's KUBE-SVC chain
    assert names.service_chain("nginx-demo/service-nginx-demo:", "TCP") == "KUBE-SVC-7D7VEXWNCKBQRZ7W"
    assert names.service_chain("nginx-demo/service-nginx-demo:", "tcp") == "KUBE-SVC-7D7VEXWNCKBQRZ7W"


def test_other_chain_prefixes_share_the_service_hash() -> None:
    spn = "nginx-demo/service-nginx-demo:"
    assert names.xlb_chain(spn, "tcp") == "KUBE-XLB-7D7VEXWNCKBQRZ7W"
    assert names.external_chain(spn, "tcp") == "KUBE-EXT-7D7VEXWNCKBQRZ7W"
    assert names.local_chain(spn, "tcp") == "KUBE-SVL-7D7VEXWNCKBQRZ7W"
    assert names.firewall_chain(spn, "tcp") == "KUBE-FW-7D7VEXWNCKBQRZ7W"
    # without the trailing colon (port-name format of the 1.24+ layouts) the hash changes
    assert names.service_chain("nginx-demo/service-nginx-demo", "tcp") == "KUBE-SVC-WGW5ZPXP7HZEBG5V"


def test_service_port_name_formats() -> None:
    assert names.service_port_name("ns", "svc", "", legacy_colon=True) == "ns/svc:"
    assert names.service_port_name("ns", "svc", "") == "ns/svc"
    assert names.service_port_name("ns", "svc", "http") == "ns/svc:http"


# The seed's KUBE-SEP names are NOT sha256(name + "tcp" + "ip:80") of the pod IPs its dump shows
# (192.168.39.2, 192.168.49.70, 192.168.16.142): the dump's addresses were edited after the fact.
# kube-proxy 1.18 computes servicePortEndpointChainName(svcNameString, protocol, e.Endpoint) with
# e.Endpoint = "ip:port", and searching 192.168.0.0/16 for that input finds the real endpoints the
# names were made from: 192.168.4.232, 192.168.57.43 and 192.168.76.6 (all port 80).
@pytest.mark.parametrize(
    ("endpoint", "chain"),
    [
        ("192.168.4.232:80", "KUBE-SEP-2IF7DICDPRGPK5UI"),
        ("192.168.57.43:80", "KUBE-SEP-73EDW25F4C3YFWYZ"),
        ("192.168.76.6:80", "KUBE-SEP-2V4THTSJVFKRX4LC"),
    ],
)
def test_seed_endpoint_chains_come_from_the_unedited_addresses(endpoint: str, chain: str) -> None:
    assert names.endpoint_chain("nginx-demo/service-nginx-demo:", "tcp", endpoint) == chain


def test_seed_endpoint_chains_for_the_shown_addresses() -> None:
    spn = "nginx-demo/service-nginx-demo:"
    assert names.endpoint_chain(spn, "tcp", "192.168.39.2:80") == "KUBE-SEP-2NMLPXPPZMNETRWM"
    assert names.endpoint_chain(spn, "tcp", "192.168.39.2:80") != "KUBE-SEP-2IF7DICDPRGPK5UI"


def test_kube_proxy_writes_ten_decimals() -> None:
    assert names.kube_proxy_probability(3) == "0.3333333333"
    assert names.kube_proxy_probability(2) == "0.5000000000"
    assert names.kube_proxy_probability(7) == "0.1428571429"
    with pytest.raises(ValueError):
        names.kube_proxy_probability(0)


def test_saved_probabilities() -> None:
    assert names.saved_probability(names.kube_proxy_probability(3)) == "0.33333333349"
    assert names.saved_probability(names.kube_proxy_probability(2)) == "0.50000000000"
    assert names.saved_probability("0.1000000000") == "0.10000000009"
    assert names.saved_probability(names.kube_proxy_probability(4)) == "0.25000000000"


@pytest.mark.parametrize("n", range(2, 40))
def test_saved_probability_formula(n: int) -> None:
    # xt_statistic: u32 = lround(p * 2^31); iptables-save prints u32 / 2^31 with 11 decimals
    p = float(f"{1.0 / n:.10f}")
    stored = int(p * 2**31 + 0.5)
    assert names.saved_probability(names.kube_proxy_probability(n)) == f"{stored / 2**31:.11f}"
    assert names.probability_fraction(names.kube_proxy_probability(n)) == Fraction(stored, 2**31)


@given(st.integers(min_value=1, max_value=50))
def test_every_endpoint_equally_likely(n: int) -> None:
    # endpoint i is chosen when rules 0..i-1 miss and rule i hits: prod(1 - p_j) * p_i
    ps = [names.probability_fraction(names.kube_proxy_probability(n - i)) for i in range(n - 1)] + [Fraction(1)]
    chosen = []
    miss = Fraction(1)
    for p in ps:
        chosen.append(miss * p)
        miss *= 1 - p
    assert sum(chosen) == 1
    for c in chosen:
        assert abs(c - Fraction(1, n)) < Fraction(1, 10**8)


@given(st.integers(min_value=1, max_value=50))
def test_endpoint_chain_names_unique(n: int) -> None:
    spn = "ns/svc:"
    chains = {names.endpoint_chain(spn, "tcp", f"10.0.{i // 256}.{i % 256}:8080") for i in range(n)}
    assert len(chains) == n
    assert all(len(c) == len("KUBE-SEP-") + 16 and len(c) <= 28 for c in chains)
    assert names.service_chain(spn, "tcp") not in chains
