"""A scenario whose client would call a UDP (or SCTP) port: refused by every face that takes a scenario, with the
file, the line and the key (hairpin.scenario_protocols); `scenario from-cluster` writes a TCP port first."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from hairpin import scenario
from hairpin.cli.main import main
from hairpin.errors import InputError, ScenarioError
from hairpin.kube.from_cluster import scenario_from_objects
from hairpin.parsers import manifests as m

SEED = yaml.safe_load(Path(scenario.__file__).with_name("scenarios").joinpath("seed.yaml").read_text())
DUMP = Path(__file__).parent / "data" / "check" / "seed-dump.yaml"
SVC = "nginx-demo/service-nginx-demo"
UDP_WHY = ("services[0].ports[0].protocol: UDP is not modelled on the port the client calls (the Service's first "
           "port): the simulator and the lab make TCP connections only; list a TCP port first (hairpin check judges "
           "UDP ports)")  # fmt: skip


def _seed_with(tmp_path: Path, protocol: str) -> tuple[Path, int]:
    """The seed's file with its one port's protocol changed (the text, so the line is the seed's)."""
    text = Path(scenario.__file__).with_name("scenarios").joinpath("seed.yaml").read_text()
    assert text.count("protocol: TCP") == 1
    path = tmp_path / "udp.yaml"
    path.write_text(text.replace("protocol: TCP", f"protocol: {protocol}"))
    line = next(i for i, t in enumerate(path.read_text().splitlines(), 1) if f"protocol: {protocol}" in t)
    return path, line


@pytest.mark.parametrize("face", [
    ["reproduce", "--connections", "200", "--no-fixes", "--scenario"],
    ["sweep", "--grid", "nodes=1,2", "--scenario"],
    ["lab", "run", "--scenario"],
    ["lab", "up", "--scenario"],
    ["scenario", "validate"],
    ["scenario", "nodes"],
])  # fmt: skip
def test_every_face_refuses_a_udp_client_port(face: list[str], tmp_path: Path, capsys: Any) -> None:
    """The audit's run: `reproduce` said "102 of 200 ... timed out" with SYNs to a UDP Service; now exit 2, one line."""
    path, line = _seed_with(tmp_path, "UDP")
    args = [*face, str(path)] + ([str(tmp_path / "nodes")] if face[-1] == "nodes" else [])
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err == f"hairpin: error: {path}:{line}: {UDP_WHY}\n"
    assert not (tmp_path / "nodes").exists()


def test_sctp_is_refused_where_it_is_read(tmp_path: Path, capsys: Any) -> None:
    path, line = _seed_with(tmp_path, "SCTP")
    with pytest.raises(SystemExit) as exc:
        main(["scenario", "validate", str(path)])
    assert exc.value.code == 2
    assert capsys.readouterr().err == (f"hairpin: error: {path}:{line}: services[0].ports[0].protocol: must be one of "
                                       "TCP, UDP (got 'SCTP')\n")  # fmt: skip


def test_a_udp_port_after_the_called_one_is_kept_with_its_rules() -> None:
    """A later UDP port is not called; kube-proxy's rules for it are written with -p udp (hairpin.kube.proxy)."""
    from hairpin.kube.proxy import iptables_save

    doc = copy.deepcopy(SEED)
    doc["services"][0]["ports"].append({"name": "dns", "protocol": "UDP", "port": 53, "target_port": 53,
                                        "node_port": 31053})  # fmt: skip
    s = scenario.from_dict(doc)
    assert [p.protocol for p in s.client_service.ports] == ["TCP", "UDP"]
    rules = iptables_save(s, s.nodes[0].name)
    assert "-p udp" in rules and "--dport 31053" in rules
    doc["services"][0]["ports"].reverse()  # the UDP port first: the one the client would call
    with pytest.raises(ScenarioError) as e:
        scenario.from_dict(doc, "two.yaml")
    assert str(e.value) == f"two.yaml: {UDP_WHY}"


def _dump(tmp_path: Path, ports: str) -> Path:
    text = DUMP.read_text()
    old = "ports: [{protocol: TCP, port: 80, targetPort: http, nodePort: 31468}]"
    assert text.count(old) == 1
    path = tmp_path / "dump.yaml"
    path.write_text(text.replace(old, f"ports: [{ports}]"))
    return path


def test_from_cluster_refuses_a_service_without_a_tcp_port(tmp_path: Path, capsys: Any) -> None:
    dump = _dump(tmp_path, "{protocol: UDP, port: 53, targetPort: 53, nodePort: 31053}")
    lines = dump.read_text().splitlines()
    line = (
        next(i for i, t in enumerate(lines, 1) if t == "  kind: Service" and "service-nginx-demo" in lines[i + 1]) - 1
    )
    out = tmp_path / "mine.yaml"
    with pytest.raises(SystemExit) as exc:
        main(["scenario", "from-cluster", str(dump), "--service", SVC, "-o", str(out)])
    assert exc.value.code == 2
    assert not out.exists()
    err = capsys.readouterr().err
    assert err == (f"hairpin: error: {dump}:{line}: Service {SVC} has no TCP port (53/UDP): the simulator and the "
                   "lab make TCP connections only; hairpin check judges UDP ports\n")  # fmt: skip


def test_from_cluster_writes_the_first_tcp_port_first(tmp_path: Path, capsys: Any) -> None:
    dump = _dump(tmp_path, "{name: dns, protocol: UDP, port: 53, targetPort: 53, nodePort: 31053}, "
                           "{name: discard, protocol: SCTP, port: 9, targetPort: 9, nodePort: 31009}, "
                           "{name: web, protocol: TCP, port: 80, targetPort: http, nodePort: 31468}")  # fmt: skip
    s, _ = scenario_from_objects(m.load_paths([dump]), service=SVC, client="default/netshoot")
    assert [(p.protocol, p.port, p.node_port) for p in s.client_service.ports] == [("TCP", 80, 31468),
                                                                                    ("UDP", 53, 31053)]  # fmt: skip
    assert s.client.port == 80
    out = tmp_path / "mine.yaml"
    with pytest.raises(SystemExit) as exc:
        main(["scenario", "from-cluster", str(dump), "--service", SVC, "--client-pod", "default/netshoot",
              "-o", str(out)])  # fmt: skip
    assert exc.value.code in (0, None)
    warnings = [t for t in capsys.readouterr().err.splitlines() if t.startswith("hairpin: warning:")]
    assert warnings == [
        f"hairpin: warning: not modelled: port 9/SCTP of {SVC} left out (scenario ports are TCP or UDP)",
        f"hairpin: warning: not modelled: calls to port 53/UDP of {SVC} (the client calls 80/TCP, the Service's "
        "first TCP port, written first)",
    ]
    assert scenario.load(out).client_service.ports[0].protocol == "TCP"


def test_from_cluster_error_is_an_input_error(tmp_path: Path) -> None:
    dump = _dump(tmp_path, "{protocol: SCTP, port: 9, targetPort: 9, nodePort: 31009}")
    with pytest.raises(InputError) as e:
        scenario_from_objects(m.load_paths([dump]), service=SVC)
    assert e.value.message == (f"Service {SVC} has no TCP port (9/SCTP): the simulator and the lab make TCP "
                               "connections only; hairpin check judges UDP ports")  # fmt: skip
