"""Text from the user's files reaches reports (a Service's name, a ConfigMap value, a rule's comment): a control
character in it is shown as ``\\xNN``, so a dump or rule file cannot move the cursor or recolour the terminal
(``hairpin.cli.common.emit``), and the datapath line quotes what it cannot show whole."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hairpin.cli.main import main
from test_check_datapath import CILIUM, COREDNS, NODES, config_map, service


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    out, _ = capsys.readouterr()
    return int(exc.value.code or 0), out


def test_a_terminal_escape_in_a_service_name_is_shown_not_sent(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    svc = service()
    svc["metadata"]["name"] = "svc\x1b[2J\x1b[31mx"
    dump = tmp_path / "dump.json"
    dump.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [*NODES, svc]}))
    code, out = _run(["check", str(dump)], capsys)
    assert code == 1
    assert "\x1b" not in out and "shop/svc\\x1b[2J\\x1b[31mx" in out


def test_a_cilium_config_value_with_a_newline_stays_on_its_line(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    items = [*NODES, service(), *CILIUM, config_map("cilium-config", {"kube-proxy-replacement": "true\n\x1b[31mRED"}),
             COREDNS]  # fmt: skip
    dump = tmp_path / "dump.json"
    dump.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    code, out = _run(["check", str(dump)], capsys)
    assert code == 1
    line = out.splitlines()[1]
    assert line.startswith("warning: this cluster runs Cilium and no kube-proxy (2 Cilium agent pods; ConfigMap "
                           "kube-system/cilium-config kube-proxy-replacement: 'true\\n\\x1b[31mRED'; no kube-proxy "
                           "pods)")  # fmt: skip


def test_a_rule_comment_with_a_control_character_is_shown_escaped(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    seed = Path(__file__).parent / "data" / "trace" / "seed-node1"
    save = (seed / "iptables-save").read_text().replace(
        '-A KUBE-NODEPORTS -p tcp -m comment --comment "nginx-demo/service-nginx-demo:"',
        '-A KUBE-NODEPORTS -p tcp -m comment --comment "nginx\x07demo\x1b[8m"', 1)
    assert "\x07" in save
    (tmp_path / "iptables-save").write_text(save)
    code, out = _run(["trace", "--iptables-save", str(tmp_path / "iptables-save"), "--routes", str(seed / "ip-route"),
                      "--rules", str(seed / "ip-rule"), "--addrs", str(seed / "ip-addr"),
                      "tcp 192.168.27.239:49134 > 192.168.2.3:31468 syn in eth0"], capsys)  # fmt: skip
    assert code == 0
    # rich drops BEL, BS, VT, FF and CR itself (rich.control.strip_control_codes); ESC is shown escaped
    assert "\x07" not in out and "\x1b" not in out and '"nginxdemo\\x1b[8m"' in out


def test_a_bidi_override_in_a_service_name_is_shown_not_obeyed(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    # U+202E (right-to-left override) would draw "shop/svc-lmy.yaml" as "shop/svc-lmay.yml" in a terminal that
    # implements UAX #9, U+2066 (left-to-right isolate) is the isolates' first: both shown as in the HTML report
    svc = service()
    svc["metadata"]["name"] = "svc-\u202elmy.yaml\u2066x\u2069"
    dump = tmp_path / "dump.json"
    dump.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [*NODES, svc]}))
    code, out = _run(["check", str(dump)], capsys)
    assert code == 1
    assert not any(c in out for c in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
    assert "shop/svc-\\u202elmy.yaml\\u2066x\\u2069" in out
