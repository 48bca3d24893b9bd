"""Numbers in the files hairpin reads are ASCII digits, as the kernel's tools print them.  ``str.isdigit`` also
takes superscripts (``'²'``, which ``int`` refuses: a traceback) and other scripts' digits (``'١٢'``, which
``int`` reads as 12: a value no tool wrote, taken as if it had).  Each reader below was found taking one."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hairpin.backends.lab.record import LabRecord
from hairpin.errors import InputError, ParseError
from hairpin.netfilter import nft
from hairpin.parsers import ipset
from hairpin.parsers.linkinfo import _int

NODE = Path(__file__).resolve().parent / "data" / "trace" / "seed-node1"


@pytest.mark.parametrize(("prefix", "family"), [("١٢", "ip"), ("٦٤", "ip6")])
def test_an_nft_prefix_length_in_other_digits_is_refused(prefix: str, family: str) -> None:
    addr = "10.0.0.0" if family == "ip" else "fd00::"
    text = f"table {family} kube-proxy {{\n\tchain x {{\n\t\t{family} saddr {addr}/{prefix} accept\n\t}}\n}}\n"
    with pytest.raises(ParseError) as e:
        nft.parse(text, "f")
    most = 32 if family == "ip" else 128
    assert (e.value.line, e.value.message) == (3, f"bad prefix length /{prefix} (0 to {most})")


def test_an_ipset_maxelem_in_other_digits_is_not_read() -> None:
    sets = ipset.parse("create KUBE-X hash:ip family inet hashsize 1024 maxelem ٦٥\n", "f")
    assert sets["KUBE-X"].maxelem == 65536  # the default: the value is not one ipset save prints
    assert ipset.parse("create KUBE-X hash:ip family inet hashsize 1024 maxelem 65\n", "f")["KUBE-X"].maxelem == 65


@pytest.mark.parametrize(("value", "want"), [("4789", 4789), ("²", None), ("٤٧٨٩", None), ("70000", None)])
def test_a_link_detail_number_is_ascii_digits(value: str, want: int | None) -> None:
    assert _int(value, 65535) == want


def test_an_ip_rule_table_named_with_a_superscript_is_named_not_a_traceback(tmp_path: Path) -> None:
    node = tmp_path / "node"
    shutil.copytree(NODE, node)
    (node / "ip-rule").write_text("0:\tfrom all lookup local\n100:\tfrom 10.0.0.5 lookup ²\n101:\tfrom 10.0.0.6 "
                                  "lookup 7\n32766:\tfrom all lookup main\n32767:\tfrom all lookup default\n")  # fmt: skip
    (node / "ip-route").write_text("".join(line for line in (NODE / "ip-route").read_text().splitlines(True)
                                           if "table" not in line))  # fmt: skip
    res = subprocess.run([sys.executable, "-m", "hairpin.cli.main", "trace", "--node", str(node), "--format", "json",
                          "tcp 10.0.1.10:40000 > 10.0.1.5:30080 syn in eth0"], capture_output=True, text=True,
                         check=False)  # fmt: skip
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
    (warning,) = [w for w in json.loads(res.stdout)["warnings"] if "rules look up tables" in w]
    assert warning.startswith(f"{node}/ip-rule:2: rules look up tables 7, ² (lines 2, 3), which ")


def test_a_lab_record_start_key_in_other_digits_is_refused(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    from hairpin.backends.lab import record

    monkeypatch.setenv("HAIRPIN_LAB_DIR", str(tmp_path))
    rec = LabRecord("hp0a1b2c-", "seed", 2**22 + 7, 0.0, [], persistent=True)
    rec.save()
    data = json.loads(rec.path.read_text())
    data["starts"] = {"²": 5}
    rec.path.write_text(json.dumps(data))
    with pytest.raises(InputError) as e:  # not a record hairpin wrote: one line (int('²') was a traceback)
        record.labs()
    assert str(e.value) == f"{rec.path}: not a lab record: a process start time that is not of a recorded pid"
