"""Every transcript in the user docs (README.md, docs/*.md) is what hairpin prints today.

Which blocks:

- a *transcript* is a fenced code block whose first line starts with ``$ hairpin ``; every ``$ `` line in it
  is a command, the lines after it (up to the next ``$ `` line) what that command printed;
- an *excerpt* is a block of output without a ``$ `` line whose command the text before it names exactly;
  :data:`EXCERPTS` lists them with their command and the block's first line (each must be found).

How a command runs: ``python -m hairpin.cli.main ARGS`` in a subprocess, ``COLUMNS=80`` unless :data:`WIDTH`
says the block shows a wider layout, stdout and stderr on one stream in the order written (unbuffered), as a
terminal shows them.  It runs in the repository's root, or, for a block naming a file of its own
(``bomb.yaml``), in a temporary directory where :data:`MADE` writes that file; nothing else differs between
the doc and the run, so no path or time needs rewriting.  Each distinct command runs once (module cache).
A block whose command needs an optional extra (``--dask``, ``--ray``: :data:`NEEDS`) is skipped when that
extra is not installed.

The matching rule, the same for every block: output lines lose their trailing blanks (rich pads table
lines); then

- a doc line that is only ``...`` or ``[...]`` (indented or not) stands for any number of output lines,
  none included;
- ``...`` or ``[...]`` inside a doc line stands for any characters within that one line (three dots that
  hairpin prints itself, as in the README's cut hop notes, match too);
- every other character must be there exactly, and the doc lines are consecutive output lines;
- a transcript's lines cover the whole output, first line to last (end it with ``...`` to leave the rest
  out); an excerpt's lines may start and end anywhere in the output.

A doc that no longer matches fails with a diff of the doc's lines against the output's.
"""

from __future__ import annotations

import difflib
import importlib.util
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
ELIDED = re.compile(r"\[\.\.\.\]|\.\.\.")


@dataclass(frozen=True)
class Block:
    page: str  # README.md, docs/check.md
    line: int  # the command's line in the page (1-based)
    command: str  # what follows "hairpin " on the $ line
    expected: tuple[str, ...]
    whole: bool  # a transcript (first to last line) or an excerpt (anywhere in the output)

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"


def _bomb(d: Path) -> None:
    """``bomb.yaml`` of docs/input.md: a billion-laughs scenario, its first alias on line 2."""
    (d / "bomb.yaml").write_text('a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
                                 "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                                 "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n")  # fmt: skip


def _my(d: Path) -> None:
    """``my.yaml`` of docs/scenarios.md: the seed with ip targets (examples/seed-ip-targets.yaml) written compactly
    and without its region, with a target type that does not exist on line 26."""
    (d / "my.yaml").write_text(
        "name: mine\nvpc:\n  cidr: 192.168.0.0/16\n  router: 192.168.0.1\n  azs:\n"
        "    - {name: eu-west-1a, subnets: [192.168.0.0/19, 192.168.160.0/19]}\n"
        "    - {name: eu-west-1b, subnets: [192.168.32.0/19, 192.168.128.0/19]}\n"
        'kube_proxy: {mode: iptables, version: "1.18"}\nnodes:\n'
        "  - {name: node1, ip: 192.168.2.3, az: eu-west-1a}\n  - {name: node2, ip: 192.168.21.86, az: eu-west-1a}\n"
        "  - {name: node3, ip: 192.168.44.17, az: eu-west-1b}\npods:\n"
        "  - {name: netshoot, namespace: default, ip: 192.168.27.239, node: node1, labels: {run: netshoot}}\n"
        "  - {name: nginx-demo-1, namespace: nginx-demo, ip: 192.168.16.142, node: node1, labels: {app: nginx}}\n"
        "  - {name: nginx-demo-2, namespace: nginx-demo, ip: 192.168.39.2, node: node3, labels: {app: nginx}}\n"
        "  - {name: nginx-demo-3, namespace: nginx-demo, ip: 192.168.49.70, node: node3, labels: {app: nginx}}\n"
        "services:\n  - namespace: nginx-demo\n    name: service-nginx-demo\n    type: LoadBalancer\n"
        "    cluster_ip: 10.100.235.20\n    selector: {app: nginx}\n    ports: [{protocol: TCP, port: 80, target_port: 80, node_port: 31468}]\n"
        "    load_balancer:\n      target_type: nodeport\n      type: nlb\n      scheme: internal\n"
        "      cross_zone: false\n      nodes: {eu-west-1a: 192.168.168.103, eu-west-1b: 192.168.140.27}\n"
        "client: {pod: netshoot, service: nginx-demo/service-nginx-demo, port: 80, address: 192.168.168.103}\n"
    )


def _client_capture(d: Path) -> None:
    """``client.pcapng`` of docs/pcap.md: 12 simulated connections of the seed (seed 0), the client pod's own
    interface only (``hairpin.render.pcap.write_run``, as docs/pictures.md shows)."""
    from hairpin.backends import sim
    from hairpin.render import pcap as render_pcap
    from hairpin.scenario import seed

    run = sim.run(seed(), 12, 0)
    render_pcap.write_run(run, d / "client.pcapng", run.connections, places={"pod netshoot eth0"})


def _gz_bomb(d: Path) -> None:
    """``bomb.json.gz`` of docs/input.md: 513 MiB of spaces in about 0.5 MiB of gzip."""
    import zlib

    z = zlib.compressobj(1, zlib.DEFLATED, 31)
    block = b" " * (1 << 20)
    with (d / "bomb.json.gz").open("wb") as f:
        for _ in range(513):
            f.write(z.compress(block))
        f.write(z.flush())


def _gz_cut(d: Path) -> None:
    """``cut.json.gz`` of docs/input.md: a gzip file cut short."""
    import gzip

    whole = gzip.compress(b'{"kind": "List", "items": []}\n' * 100)
    (d / "cut.json.gz").write_bytes(whole[: len(whole) // 2])


#: the width each block was laid out in, when not 80 (the first line of the command)
WIDTH: dict[str, int] = {"pcap client.pcapng": 120, "check tests/data/check/tgb/terraform-nlb.yaml": 120}

#: files a command names that are not in the repository: made in a temporary directory the command runs in
MADE: dict[str, Callable[[Path], None]] = {"bomb.yaml": _bomb, "my.yaml": _my, "client.pcapng": _client_capture,
                                           "bomb.json.gz": _gz_bomb, "cut.json.gz": _gz_cut}  # fmt: skip

#: options whose blocks need an extra installed: option -> (module, extra); skipped without it (the README's
#: install has no extras; CI runs these blocks again after installing them)
NEEDS: dict[str, tuple[str, str]] = {"--dask": ("distributed", "cluster"), "--ray": ("ray", "cluster")}

#: blocks whose difference is hairpin's to fix, not the doc's: id -> why (a strict xfail: it fails once fixed)
KNOWN: dict[str, str] = {}


#: excerpts: (page, the block's first line) -> the command the text before the block names
EXCERPTS: dict[tuple[str, str], str] = {
    (
        "docs/pcap.md",
        "│ 192.168.27.239:58707                         │        3 │    3.050 │ no      │",
    ): "pcap tests/data/pcap/lab-node1.pcap",
    (
        "docs/sweep.md",
        "┃ nodes ┃ cross_zone ┃  timeouts ┃ simulated ┃ closed form ┃ agree ┃",
    ): "sweep --grid nodes=1,2,3,4,6 --grid cross_zone=false,true --connections 1000 --seed 0",
}


def _blocks() -> list[Block]:
    found: list[Block] = []
    excerpts = dict(EXCERPTS)
    for page in PAGES:
        name = str(page.relative_to(ROOT))
        lines = page.read_text().splitlines()
        i = 0
        while i < len(lines):
            if not lines[i].startswith("```"):
                i += 1
                continue
            j = i + 1
            while not lines[j].startswith("```"):
                j += 1
            body = lines[i + 1 : j]
            if body and body[0].startswith("$ hairpin "):
                start = 0
                for k in range(1, len(body) + 1):
                    if k == len(body) or body[k].startswith("$ "):
                        found.append(Block(name, i + 2 + start, body[start][len("$ hairpin ") :],
                                           tuple(body[start + 1 : k]), whole=True))  # fmt: skip
                        start = k
            elif body and (name, body[0]) in excerpts:
                found.append(Block(name, i + 2, excerpts.pop((name, body[0])), tuple(body), whole=False))
            i = j + 1
    assert excerpts == {}, f"excerpts no longer in the docs: {sorted(excerpts)}"
    return found


BLOCKS = _blocks()


def pattern(expected: tuple[str, ...], whole: bool) -> re.Pattern[str]:
    """The matching rule of the module docstring, as one regular expression over the output's lines (each
    ending in a newline)."""
    parts = [] if whole else [r"(?:[^\n]*\n)*?"]
    for line in expected:
        if line.strip() in ("...", "[...]"):
            parts.append(r"(?:[^\n]*\n)*?")
        else:
            parts.append("[^\n]*?".join(re.escape(piece) for piece in ELIDED.split(line)) + r"\n")
    body = "".join(parts)
    return re.compile(r"\A" + body + r"\Z" if whole else body)


def matches(expected: tuple[str, ...], output: str, whole: bool) -> bool:
    text = "".join(line.rstrip() + "\n" for line in output.splitlines())
    return pattern(expected, whole).search(text) is not None


_RUNS: dict[str, str] = {}


def run(command: str, tmp: Path) -> str:
    """What ``hairpin COMMAND`` prints, stdout and stderr interleaved; once per command."""
    if command in _RUNS:
        return _RUNS[command]
    args = shlex.split(command)
    made = [f for f in MADE if f in args]
    cwd = ROOT
    if made:
        cwd = tmp / "made"
        cwd.mkdir(exist_ok=True)
        for f in made:
            MADE[f](cwd)
    env = {**os.environ, "COLUMNS": str(WIDTH.get(command, 80)), "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}  # fmt: skip
    env.pop("NO_COLOR", None)
    r = subprocess.run([sys.executable, "-m", "hairpin.cli.main", *args], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, env=env, cwd=cwd, check=False, timeout=300)  # fmt: skip
    _RUNS[command] = r.stdout
    return r.stdout


def _missing(command: str) -> str | None:
    """The extra a command's block needs that is not installed (``NEEDS``), as a skip reason; None if none."""
    for option, (module, extra) in NEEDS.items():
        if option in shlex.split(command) and importlib.util.find_spec(module) is None:
            return f"needs the {extra!r} extra ({module} is not installed)"
    return None


def _param(b: Block) -> object:
    if b.command in KNOWN:
        return pytest.param(b, id=b.id, marks=pytest.mark.xfail(strict=True, reason=KNOWN[b.command]))
    if (why := _missing(b.command)) is not None:
        return pytest.param(b, id=b.id, marks=pytest.mark.skip(reason=why))
    return pytest.param(b, id=b.id)


@pytest.mark.parametrize("block", [_param(b) for b in BLOCKS])
def test_doc_block_is_what_hairpin_prints(block: Block, tmp_path: Path) -> None:
    out = run(block.command, tmp_path)
    if not matches(block.expected, out, block.whole):
        diff = "\n".join(difflib.unified_diff(list(block.expected), [ln.rstrip() for ln in out.splitlines()],
                                              "doc", "hairpin " + block.command, lineterm=""))  # fmt: skip
        first = next(k for k in range(len(block.expected) + 1)
                     if not matches((*block.expected[:k], "..."), out, block.whole))  # fmt: skip
        pytest.fail(
            f"{block.id}: the doc's block is not what `hairpin {block.command}` prints; its line "
            f"{block.line + first} ({block.expected[first - 1]!r}) is where it stops matching:\n{diff}"
        )
