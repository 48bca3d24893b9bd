"""Integers longer than Python reads (4,300 digits by default: ``sys.get_int_max_str_digits``) in any input:
one line naming the file and the line, exit 2, never a traceback (``hairpin.reading.number_error``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from hairpin import reading
from hairpin.cli.main import main
from hairpin.errors import ParseError
from hairpin.parsers import forms, manifests
from hairpin.scenario import ScenarioError, load

DIGITS = "9" * (sys.get_int_max_str_digits() + 1)
SEED = Path(__file__).resolve().parents[1] / "src" / "hairpin" / "scenarios" / "seed.yaml"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    return int(exc.value.code or 0), capsys.readouterr().err


def test_a_long_integer_in_a_json_manifest_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "pod.json"
    f.write_text('{"apiVersion": "v1", "kind": "Pod",\n "metadata": {"name": "p"},\n "spec": {"x": ' + DIGITS + "}}\n")
    code, err = run(capsys, "check", str(f))
    assert code == 2 and "Traceback" not in err
    assert err.splitlines()[0] == f"hairpin: error: {f}:3: not accepted: a JSON number of more than 4,300 digits"


@pytest.mark.parametrize("lists", [True, False])
def test_a_long_integer_in_a_yaml_list_is_refused_at_its_line(lists: bool) -> None:
    text = ("apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: p\n  spec:\n"
            f"    x: {DIGITS}\n")  # fmt: skip
    errors: list[ParseError] = []
    assert manifests.parse_yaml(text, "dump.yaml", errors, lists=lists) == []
    assert [e.one_line() for e in errors] == ["dump.yaml:9: not accepted: a YAML number of more than 4,300 digits"]


def test_a_long_integer_in_a_scenario_is_one_line(tmp_path: Path) -> None:
    f = tmp_path / "s.yaml"
    f.write_text(SEED.read_text().replace("tcp_syn_retries: 6", f"tcp_syn_retries: {DIGITS}", 1))
    with pytest.raises(ScenarioError) as exc:
        load(f)
    assert exc.value.line == 18 and "a YAML number of more than 4,300 digits" in str(exc.value)


def test_a_long_integer_in_ip_j_output_is_one_line() -> None:
    text = json.dumps([{"ifindex": 1, "ifname": "lo"}]).replace("1", DIGITS, 1)
    with pytest.raises(ParseError) as exc:
        forms.read_addrs(text, "ip-addr.json")
    assert exc.value.one_line() == "ip-addr.json:1: not accepted: a JSON (ip -j addr) number of more than 4,300 digits"


def test_load_yaml_and_json_error_name_the_line() -> None:
    with pytest.raises(ParseError) as exc:
        reading.load_yaml(f"a: 1\nb: {DIGITS}\n", "conf.yaml")
    assert exc.value.one_line() == "conf.yaml:2: not accepted: a YAML number of more than 4,300 digits"
    try:
        json.loads(f"[\n{DIGITS}]")
    except ValueError as e:
        assert reading.long_number(e)
        assert reading.json_error(e, "x.json", f"[\n{DIGITS}]").one_line() == (
            "x.json:2: not accepted: a JSON number of more than 4,300 digits"
        )
    assert not reading.long_number(ValueError("invalid literal"))


def test_a_long_integer_in_a_rule_is_refused_at_its_line() -> None:
    from hairpin.parsers import iptables_check

    text = f"*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp -m tcp --dport {DIGITS} -j ACCEPT\nCOMMIT\n"
    with pytest.raises(ParseError) as exc:
        iptables_check.check(forms.read_iptables(text, "ipt")[0])
    assert exc.value.one_line() == "ipt:3: not accepted: a number of more than 4,300 digits"


@pytest.mark.parametrize(("reader", "text", "line"), [
    ("routes", f"default via 10.0.0.1 dev eth0\n10.0.0.0/24 dev eth0 metric {DIGITS}\n", 2),
    ("rules", f"0:\tfrom all lookup local\n{DIGITS}:\tfrom all lookup main\n", 2),
    ("conntrack", f"tcp      6 431999 ESTABLISHED src=1.2.3.4 dst=5.6.7.8 sport={DIGITS} dport=2 src=5.6.7.8 "
                  "dst=1.2.3.4 sport=2 dport=1 [ASSURED] mark=0 use=1\n", 1),
])  # fmt: skip
def test_a_long_integer_in_node_state_is_refused_at_its_line(reader: str, text: str, line: int) -> None:
    from hairpin.parsers import conntrack_list, iproute

    read = {"routes": lambda: forms.read_routes(text, "f", iproute.TableNames()),
            "rules": lambda: forms.read_rules(text, "f", iproute.TableNames()),
            "conntrack": lambda: conntrack_list.parse(text, "f")}[reader]  # fmt: skip
    with pytest.raises(ParseError) as exc:
        read()
    assert exc.value.one_line() == f"f:{line}: not accepted: a number of more than 4,300 digits"
