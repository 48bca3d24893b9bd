"""``hairpin trace``'s every form (text, JSON, SVG, HTML; with and without ``--reply``; iptables, IPVS and
nftables nodes) stays byte for byte what was recorded (``tests/trace_golden.py`` says what and how to
re-record): the tracer's record of a pass and the words built from it are two steps, and this holds the
words to what they were when the two were one."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

import trace_golden as golden


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[golden.Case]]:
    root = tmp_path_factory.mktemp("golden")
    return root, golden.write_inputs(root)


def test_every_recorded_case_is_still_a_case(replayed: tuple[Path, list[golden.Case]]) -> None:
    _, cases = replayed
    assert sorted(name for name, _ in cases) == sorted(golden.recorded())
    assert len(cases) == 135


def test_the_recordings_cover_every_form_and_mode() -> None:
    rec = golden.recorded()
    every = "".join(rec.values())
    assert sum("=== out.html" in r for r in rec.values()) == 10 and sum("=== out.svg" in r for r in rec.values()) == 10
    assert "IPVS: 10.2.0.10:30080 -> 10.2.0.201:8080 (masq, rr)" in every  # an IPVS node
    assert "read nft: nftables-mode/node-a/nft-ruleset: nft list ruleset (table ip kube-proxy)" in every
    assert "nft numgen random mod 3 vmap { 0 : goto endpoint-MMBNG555" in every  # an nftables node's rule
    assert "could not decide" in every and "conntrack -L line 1" in every and "REJECT (line 5)" in every
    assert "ASYMMETRIC RETURN" in every and "=== exit (1 characters)\n2\n" not in every  # no case is an error


def test_trace_outputs_are_byte_identical(replayed: tuple[Path, list[golden.Case]]) -> None:
    root, cases = replayed
    want = golden.recorded()
    for name, args in cases:
        got = golden._flat(golden.run_case(root, args))
        if got != want[name]:
            diff = "".join(list(difflib.unified_diff(want[name].splitlines(True), got.splitlines(True), "recorded",
                                                     "now"))[:60])  # fmt: skip
            pytest.fail(f"{name}: hairpin trace {' '.join(args)}\n{diff}")
