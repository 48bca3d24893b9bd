"""``hairpin check`` on UDP ports: at risk like TCP (the NLB always keeps a UDP caller's address), and the
verdict says what a UDP caller sees, not a SYN timeout (hairpin.diagnose.consequence)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from hairpin.cli.main import main
from hairpin.diagnose.consequence import consequence
from test_check_ports import EXT_INSTANCE, TGA, TT, TYPE, A, B, node, report, svc

UDP_INSTANCE = (
    "a UDP datagram reaches the caller's own node with the caller's address as source; the reply is de-NATed there "
    "and handed straight to the caller from the node's address and NodePort, not the NLB's: a connected UDP socket "
    "does not take it (its kernel answers ICMP port unreachable) and a client that checks the reply's source "
    "ignores it, so the caller gets no answer and waits out its own timeout; retries from the same socket are the "
    "same NLB flow and land on the same target (P is per flow)"
)
TCP_INSTANCE = ("the SYN reaches the caller's own node with the caller's address as source; the reply is de-NATed "
                "there and handed straight to the caller, which resets it, and the connection times out")  # fmt: skip


def test_udp_only_instance_targets_is_at_risk_without_a_syn() -> None:
    (f,) = report(node("n1", A), node("n2", A), node("n3", B),
                  svc("dns", "LoadBalancer", EXT_INSTANCE, [(53, "UDP")])).findings  # fmt: skip
    assert f.at_risk
    assert f.reason.endswith("; " + UDP_INSTANCE)
    assert "SYN" not in f.reason and "resets" not in f.reason
    assert [(p.label, p.at_risk) for p in f.ports] == [("53/UDP", True)]


def test_udp_only_ip_targets() -> None:
    (f,) = report(svc("dns", "LoadBalancer", {TYPE: "external", TT: "ip"}, [(53, "UDP")])).findings
    assert f.at_risk
    assert f.reason.endswith(
        "; a UDP datagram reaches a target pod on the caller's own node, which answers the caller directly from its "
        "own address and port, not the NLB's: a connected UDP socket does not take it (its kernel answers ICMP port "
        "unreachable) and a client that checks the reply's source ignores it, so the caller gets no answer and "
        "waits out its own timeout; retries from the same socket are the same NLB flow and land on the same target "
        "(P is per flow)"
    )


def test_tcp_and_udp_both_preserved_names_both() -> None:
    (f,) = report(svc("mixed", "LoadBalancer", EXT_INSTANCE, [(80, "TCP"), (514, "UDP")])).findings
    assert f.reason.endswith(f"; TCP: {TCP_INSTANCE}; UDP: {UDP_INSTANCE}")


def test_udp_at_risk_tcp_not_speaks_of_udp_only() -> None:
    """preserve_client_ip.enabled=false turns the TCP target group off; the UDP one keeps the caller's address."""
    ann = {**EXT_INSTANCE, TGA: "preserve_client_ip.enabled=false"}
    (f,) = report(svc("mixed", "LoadBalancer", ann, [(80, "TCP"), (514, "UDP")])).findings
    assert f.reason.endswith("; " + UDP_INSTANCE)


def test_consequence_by_protocol() -> None:
    assert consequence([], "instance") == TCP_INSTANCE  # nothing known: the TCP text, as before
    assert consequence(["TLS"], "instance") == TCP_INSTANCE
    assert consequence(["QUIC"], "instance") == UDP_INSTANCE
    assert consequence(["TCP_UDP"], "instance") == f"TCP: {TCP_INSTANCE}; UDP: {UDP_INSTANCE}"


def test_cli_exit_1_and_the_udp_text(tmp_path: Any, capsys: Any) -> None:
    path = tmp_path / "dns.yaml"
    path.write_text(yaml.safe_dump(svc("dns", "LoadBalancer", EXT_INSTANCE, [(53, "UDP")])))
    with pytest.raises(SystemExit) as exc:
        main(["check", str(path), "--format", "json"])
    assert exc.value.code == 1
    import json

    (s,) = json.loads(capsys.readouterr().out)["services"]
    assert s["at_risk"] is True and s["reason"].endswith(UDP_INSTANCE)
    assert s["ports"] == [{"port": 53, "protocol": "UDP", "preserve_client_ip": True, "at_risk": True,
                           "probability": None, "reason": "client IP preservation always on for UDP target groups: "
                           "at risk, P as given for the Service", "fixes": ["cluster-ip"], "kube_proxy_rule": None}]  # fmt: skip
