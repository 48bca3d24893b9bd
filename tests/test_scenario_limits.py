"""Every string of a scenario file that reaches a terminal, a report or a picture has a length limit: the Kubernetes
API server's where the text is a Kubernetes name, label or port name (or an AZ name or region, which Kubernetes
carries as the value of a node's topology label), else hairpin's own generous one.  Over a limit: one line naming
the file, the line and the key, exit 2.  At the limit: the file loads.  Text from the file that holds control or
bidi characters reaches the terminal escaped."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hairpin import scenario
from hairpin.cli.main import main
from hairpin.errors import ScenarioError
from hairpin.scenario_reader import Reader
from test_scenario_errors import BASE, _write

ZONE = "the API server refuses a topology.kubernetes.io/zone label value (an AZ name) longer than 63"

# (id, text of BASE to replace, its replacement, the error after "FILE:")
CASES = [
    ("scenario-name", "name: tiny\n", "name: " + "t" * 257 + "\n",
     "1: name: 257 characters: hairpin refuses a scenario name longer than 256"),
    ("description", "name: tiny\n", "name: tiny\ndescription: " + "d" * 10_001 + "\n",
     "2: description: 10,001 characters: hairpin refuses a description longer than 10,000"),
    ("region", "region: eu-west-1", "region: " + "r" * 64, "2: region: 64 characters: the API server refuses a "
     "topology.kubernetes.io/region label value (a region) longer than 63"),
    ("az-name", "    - name: eu-west-1a", "    - name: " + "a" * 64, f"7: vpc.azs[0].name: 64 characters: {ZONE}"),
    ("node-az", "    az: eu-west-1a\n", "    az: " + "a" * 100_000 + "\n",
     f"13: nodes[1].az: 100,000 characters: {ZONE}"),
    ("cni-name", "region: eu-west-1", "region: eu-west-1\ncni: {name: " + "c" * 254 + "}",
     "3: cni.name: 254 characters: hairpin refuses a CNI name longer than 253"),
    ("label-value", "    az: eu-west-1a\n", "    az: eu-west-1a\n    labels: {role: " + "v" * 64 + "}\n",
     "14: nodes[1].labels.role: 64 characters: the API server refuses a label value longer than 63"),
    ("label-key-name", "labels: {app: web}", "labels: {app: web, " + "k" * 64 + ": x}", "16: pods[1].labels: a key "
     "whose name part is 64 characters: the API server refuses a label key's name part longer than 63"),
    ("label-key-prefix", "labels: {app: web}", "labels: {app: web, " + "p" * 254 + "/k: x}", "16: pods[1].labels: a "
     "key whose prefix part is 254 characters: the API server refuses a label key's prefix part longer than 253"),
    ("selector-value", "    selector: {app: web}", "    selector: {app: " + "w" * 64 + "}",
     "22: services[0].selector.app: 64 characters: the API server refuses a label value longer than 63"),
    ("target-node-labels", "      target_type: instance\n", "      target_type: instance\n      target_node_labels: "
     "{role: " + "v" * 64 + "}\n", "27: services[0].load_balancer.target_node_labels.role: 64 characters: the API "
     "server refuses a label value longer than 63"),
    ("port-name", "{port: 80, target_port", "{name: " + "p" * 64 + ", port: 80, target_port", "24: services[0]."
     "ports[0].name: 64 characters: the API server refuses a Service port name (a DNS-1123 label) longer than 63"),
    ("pod-node", "node: node2, labels", "node: " + "n" * 254 + ", labels",
     "16: pods[1].node: 254 characters: the API server refuses a name for a Node longer than 253"),
    ("endpoint", "    selector: {app: web}\n", "    selector: {app: web}\n    endpoints: [" + "e" * 254 + "]\n",
     "23: services[0].endpoints[0]: 254 characters: the API server refuses a name for a Pod longer than 253"),
    ("client-pod", "  pod: client\n", "  pod: " + "c" * 254 + "\n",
     "29: client.pod: 254 characters: the API server refuses a name for a Pod longer than 253"),
    ("client-service", "  service: web/web\n", "  service: " + "s" * 128 + "\n",
     "30: client.service: 128 characters: no Service's namespace/name is longer than 127"),
]  # fmt: skip


@pytest.mark.parametrize(("old", "new", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_over_the_limit_is_one_error_naming_file_line_and_key(tmp_path: Path, old: str, new: str,
                                                               expected: str) -> None:  # fmt: skip
    f = _write(tmp_path, old, new)
    with pytest.raises(ScenarioError) as e:
        scenario.load(f)
    assert str(e.value) == f"{f}:{expected}"
    assert e.value.line == int(expected.split(":")[0])


@pytest.mark.parametrize(("old", "new", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_validate_exits_2_with_the_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str, new: str,
                                            expected: str) -> None:  # fmt: skip
    f = _write(tmp_path, old, new)
    with pytest.raises(SystemExit) as e:
        main(["scenario", "validate", str(f)])
    out = capsys.readouterr()
    assert (e.value.code, out.out, out.err) == (2, "", f"hairpin: error: {f}:{expected}\n")


def test_reproduce_exits_2_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = _write(tmp_path, "name: tiny\n", "name: " + "t" * 257 + "\n")
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(SystemExit) as e:
        main(["reproduce", "--scenario", str(f), "--html", str(out / "r.html"), "--svg", str(out / "r.svg")])
    err = capsys.readouterr().err
    assert (e.value.code, err) == (2, f"hairpin: error: {f}:1: name: 257 characters: hairpin refuses a scenario "
                                      "name longer than 256\n")  # fmt: skip
    assert list(out.iterdir()) == []


def test_every_string_at_its_limit_loads() -> None:
    doc = scenario.parse(BASE, "t")[0]
    az, region = "a" * 63, "r" * 63
    doc["name"], doc["description"], doc["region"] = "t" * 256, "d" * 10_000, region
    doc["cni"] = {"name": "c" * 253}
    doc["vpc"]["azs"][0]["name"] = doc["nodes"][0]["az"] = doc["nodes"][1]["az"] = az
    doc["services"][0]["load_balancer"]["nodes"] = {az: "10.0.10.5"}
    key = "p" * 253 + "/" + "k" * 63
    doc["nodes"][1]["labels"] = {key: "v" * 63}
    doc["services"][0]["load_balancer"]["target_node_labels"] = {key: "v" * 63}
    doc["pods"][1]["labels"] = {"app": "w" * 63, "k" * 63: "x"}
    doc["services"][0]["selector"] = {"app": "w" * 63}
    doc["services"][0]["ports"][0]["name"] = "p" * 63
    node = "n" * 253
    doc["nodes"][1]["name"] = doc["pods"][1]["node"] = node
    s = scenario.from_dict(copy.deepcopy(doc), "t")
    assert (len(s.name), len(s.description), s.region, s.vpc.azs[0].name, s.nodes[1].az) == (256, 10_000, region, az,
                                                                                             az)  # fmt: skip
    assert (s.cni.name, s.nodes[1].labels, s.services[0].ports[0].name) == ("c" * 253, ((key, "v" * 63),), "p" * 63)
    assert s.services[0].endpoints == ("web-1",) and s.pods[1].node == node


def test_validate_shows_control_and_bidi_characters_in_the_name(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """The name is printed as the terminal reports print text from the user's files (``hairpin.render.markup``):
    ESC and RIGHT-TO-LEFT OVERRIDE as ``\\x1b`` and ``\\u202e``, not sent to the terminal."""
    f = _write(tmp_path, "name: tiny\n", 'name: "tiny\\e[31m\\u202eX"\n')
    with pytest.raises(SystemExit) as e:
        main(["scenario", "validate", str(f)])
    out = capsys.readouterr().out
    assert (e.value.code, out) == (0, f"{f}: ok (tiny\\x1b[31m\\u202eX: 2 nodes, 2 pods, 1 services)\n")


@given(st.text(max_size=300), st.integers(0, 300))
def test_text_is_taken_up_to_its_limit_and_refused_past_it(value: str, limit: int) -> None:
    r = Reader({"k": value}, "a", "f.yaml", {"a.k": 7})
    if len(value) <= limit:
        assert r.text("k", limit, "X refuses") == value
    else:
        with pytest.raises(ScenarioError) as e:
            r.text("k", limit, "X refuses")
        assert str(e.value) == f"f.yaml:7: a.k: {len(value):,} characters: X refuses longer than {limit:,}"


@given(
    st.integers(0, 260), st.integers(0, 70), st.text(st.characters(blacklist_characters="/"), min_size=1, max_size=1)
)
def test_a_label_key_is_taken_when_each_part_fits(prefix: int, name: int, ch: str) -> None:
    """The name part after the last "/" at most 63 characters, the prefix before it at most 253 (lengths only)."""
    key = (ch * prefix + "/" if prefix else "") + ch * name
    r = Reader({"labels": {key: "v"}}, "n", "f.yaml", {"n.labels": 3})
    if name <= 63 and prefix <= 253:
        assert r.labels("labels") == ((key, "v"),)
        return
    with pytest.raises(ScenarioError) as e:
        r.labels("labels")
    part, n, limit = ("name", name, 63) if name > 63 else ("prefix", prefix, 253)
    assert str(e.value) == (f"f.yaml:3: n.labels: a key whose {part} part is {n:,} characters: the API server "
                            f"refuses a label key's {part} part longer than {limit}")  # fmt: skip


def test_notes_show_control_and_bidi_characters_in_a_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The notes and warnings on stderr name Services and nodes from the file: shown as the terminal reports show
    them (an IPv6 scenario with instance targets gets a note naming its Service)."""
    text = (Path(__file__).resolve().parents[1] / "examples" / "seed-ipv6.yaml").read_text()
    name, client = "    name: service-nginx-demo\n", "  service: nginx-demo/service-nginx-demo\n"
    assert text.count(name) == text.count(client) == 1
    hostile = "svc\\e[31m\\u202e"
    f = tmp_path / "v6.yaml"
    f.write_text(text.replace(name, f'    name: "{hostile}"\n').replace(client, f'  service: "nginx-demo/{hostile}"\n'))
    with pytest.raises(SystemExit) as e:
        main(["reproduce", "--scenario", str(f), "--connections", "2"])
    err = capsys.readouterr().err
    assert e.value.code == 0 and "\x1b" not in err and "\u202e" not in err
    assert "hairpin: note: nginx-demo/svc\\x1b[31m\\u202e: instance targets in an IPv6 target group: " in err


def test_the_recorded_scenario_name_is_shown_escaped(lab_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``hairpin lab status`` reads its records only (no namespace is made here): the name of the scenario a record
    holds is shown as every terminal report shows it."""
    import os

    from hairpin.backends.lab.record import LabRecord

    LabRecord("hpabc123-", "seed\x1b[31m\u202e", os.getpid(), 0.0, state="up", persistent=True).save()
    with pytest.raises(SystemExit) as e:
        main(["lab", "status"])
    out = capsys.readouterr().out
    assert (e.value.code, out) == (0, f"hpabc123  up       scenario=seed\\x1b[31m\\u202e fix=- owner={os.getpid()} "
                                      "namespaces=0 processes=0\n")  # fmt: skip


# ------------------------------------------------------------------------------ a file that is no scenario at all


FROM_CLUSTER = "hairpin scenario from-cluster --service NAMESPACE/NAME FILE -o mine.yaml builds a scenario from one"


@pytest.mark.parametrize("text", [
    '{"apiVersion": "v1", "items": [{"apiVersion": "v1", "kind": "Service"}], "kind": "List", "metadata": {}}\n',
    "apiVersion: v1\nitems: []\nkind: List\nmetadata: {}\n",
    "# kubectl get svc -o yaml\n---\napiVersion: v1\nkind: Service\nmetadata: {name: a}\n",
    "kind: Service\napiVersion: v1\n",
])  # fmt: skip
def test_a_kubernetes_dump_given_as_a_scenario_is_named(tmp_path: Path, text: str,
                                                        capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    path = tmp_path / "dump.json"
    path.write_text(text)
    with pytest.raises(SystemExit) as e:
        main(["reproduce", "--scenario", str(path)])
    assert (e.value.code, capsys.readouterr().err) == (
        2, f"hairpin: error: {path}:1: a Kubernetes object or dump, not a hairpin scenario; {FROM_CLUSTER}\n")


def test_a_file_larger_than_a_scenario_is_refused_before_it_is_read(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """The line-keeping YAML reader holds about 100 bytes per byte: a 274 MB cluster dump given as a scenario took
    7.5 GB and minutes before this.  The limit is 1/128 of --max-input (4 MiB by default) and moves with it."""
    path = tmp_path / "big.yaml"
    path.write_text(BASE + "#" * (4 << 20))
    with pytest.raises(SystemExit) as e:
        main(["reproduce", "--scenario", str(path)])
    size = path.stat().st_size
    assert (e.value.code, capsys.readouterr().err) == (
        2, f"hairpin: error: {path}: {size:,} bytes: larger than a scenario may be (4 MiB, 1/128 of --max-input); a "
        f"cluster dump? {FROM_CLUSTER}\n")  # fmt: skip
    with pytest.raises(SystemExit) as e:
        main(["--max-input", "1GiB", "scenario", "validate", str(path)])
    assert e.value.code == 0, capsys.readouterr().err
    small = tmp_path / "small.yaml"
    small.write_text(BASE)
    with pytest.raises(SystemExit) as e:
        main(["--max-input", "64KiB", "scenario", "validate", str(small)])  # 512 bytes may be a scenario: BASE is more
    assert (e.value.code, capsys.readouterr().err) == (
        2, f"hairpin: error: {small}: {len(BASE):,} bytes: larger than a scenario may be (512 bytes, 1/128 of "
        f"--max-input); a cluster dump? {FROM_CLUSTER}\n")  # fmt: skip
