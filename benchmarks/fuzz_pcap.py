"""A mutation and generation campaign against ``hairpin pcap``'s fast path: every case must give the streaming
reader's answer, byte for byte.

What it does: builds small captures (hairpins, healthy handshakes, lone SYNs, server resets, data segments;
IPv4, IPv6, VXLAN, VLAN tags; Ethernet, Linux cooked v1/v2, raw IP link types; classic pcap in both byte
orders, micro- and nanoseconds; pcapng with several interfaces and time resolutions), mutates them (bytes of
record headers and IP/TCP headers changed, records cut, duplicated, swapped, made zero-length or longer than
the frame, timestamps sent backwards, a second file header or bytes that look like record headers put in,
files cut at any offset, concatenated, garbage appended), and runs each case (one to three files) twice:

- the reference: ``hairpin pcap FILES --format json`` (and ``--format text`` for a share of the cases) in
  this process, through :func:`hairpin.cli.main.main` (the CLI's light route) with
  :func:`hairpin.diagnose.capture.analyse_files` forced to ``fast=False`` (the streaming reader and the
  analyser alone);
- the fast path: the same command line, as users run it;

and compares exit code, stdout and stderr; then the ``records=True`` analysis (``--svg``/``--html``'s
route) of both, and the first pass's rows against the streaming reader's.  The first pass's chunk size is
drawn for each case (64 bytes to 1 MiB) so records straddle chunk ends.  A case that disagrees is written
to ``--out`` (its files and both answers) and counted.

Run (CPU-bound, one core): ``PYTHONPATH=src python3 benchmarks/fuzz_pcap.py --cases 3000 --seed 1
--out /tmp/fuzz-out``; ``--slices /path/cap.pcap`` adds cases cut from a real capture (20,000-packet
slices, the real 1 MiB chunks).  Exit code 1 when a case disagreed.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import random
import signal
import struct
import sys
import time
from pathlib import Path
from typing import Any
from unittest import mock

from hairpin.diagnose import capture
from hairpin.errors import ParseError
from hairpin.parsers import fastscan, fastscan_ng, frames, pcap

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script or imported by the tests
from fuzz_pcap_cases import CHUNKS, _ng_block, _ng_opt, make_case, mutate_bytes

__all__ = ["CHUNKS", "_ng_block", "_ng_opt", "check", "chunked", "cli", "make_case"]


@contextlib.contextmanager
def chunked(size: int) -> Any:
    with mock.patch.object(fastscan, "_CHUNK", size), mock.patch.object(fastscan_ng, "_CHUNK", size):
        yield


def cli(args: list[str], reference: bool) -> tuple[Any, str, str]:
    """``hairpin ARGS`` in this process (the CLI's light route): exit code, stdout, stderr."""
    from hairpin.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    real = capture.analyse_files
    patch = (mock.patch.object(capture, "analyse_files", lambda *a, **k: real(*a, **{**k, "fast": False}))
             if reference else contextlib.nullcontext())  # fmt: skip
    code: Any = None
    with patch, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(args)
        except SystemExit as e:
            code = e.code
    return code, out.getvalue(), err.getvalue()


def rows_of(path: Path, vxlan: frozenset[int] = frames.VXLAN_PORTS) -> tuple[Any, ...]:
    rd = pcap.read(path, want=6, vxlan=vxlan)
    rd.scan()
    rows = list(rd)
    return rows, rd.packets, rd.filtered, rd.reasons, rd.damage, rd.corrupt, rd.linktypes


def stream_rows(path: Path, vxlan: frozenset[int] = frames.VXLAN_PORTS) -> tuple[Any, ...]:
    rd = pcap.read(path, want=6, vxlan=vxlan)
    rows = list(rd)
    return rows, rd.packets, rd.filtered, rd.reasons, rd.damage, rd.corrupt, rd.linktypes


STATS: dict[str, int] = {}


def _count(name: str, module: Any, attr: str, took: Any = lambda r: r is not None) -> None:
    """Count in STATS how often ``module.attr`` is called and (``took``) does its work."""
    real = getattr(module, attr)

    def spy(*a: Any, **k: Any) -> Any:
        r = real(*a, **k)
        if took(r):
            STATS[name] = STATS.get(name, 0) + 1
        return r

    setattr(module, attr, spy)


def instrument() -> None:
    from hairpin.diagnose import capture_fast, capture_hairpins

    _count("scans", pcap.Reader, "scan")
    _count("replays", capture_fast, "drive", lambda r: True)
    _count("column hairpins", capture_hairpins, "hairpin_groups")
    _count("guessed walks", fastscan, "_guess_walk")
    _count("healthy pairs", fastscan, "healthy_pairs", lambda r: r[0] > 0)
    _count("lone syns", fastscan, "lone_syns", lambda r: bool(r[0]))
    try:
        from hairpin.parsers import fastscan_tunnels
    except ImportError:  # a version without the tunnels' shapes
        return
    _count("chunks with tunnelled rows", fastscan_tunnels, "tunnelled", lambda r: bool(r[0].any() or r[1].any()))


def check(paths: list[Path], chunk: int, text: bool, listed: int = 10_000, ports: tuple[int, ...] = ()) -> list[str]:
    """The disagreements of the fast path with the reference on these files (empty: none); ``listed``: the
    ``--max-listed`` of the command lines and analyses; ``ports``: more VXLAN ports (``--vxlan-port``, which
    takes the command line through typer)."""
    bad: list[str] = []
    names = [str(p) for p in paths]
    extra = [w for port in ports for w in ("--vxlan-port", str(port))]
    vxlan = frames.VXLAN_PORTS | set(ports)
    formats = ["json", "text"] if text else ["json"]
    with chunked(chunk):
        for fmt in formats:
            ref = cli(["pcap", *names, "--format", fmt, "--max-listed", str(listed), *extra], True)
            new = cli(["pcap", *names, "--format", fmt, "--max-listed", str(listed), *extra], False)
            if ref != new:
                bad.append(f"cli --format {fmt}:\nREF {ref!r}\nNEW {new!r}")
        try:
            ref_a = capture.analyse_files(paths, vxlan, fast=False, listed=listed)
            new_a = capture.analyse_files(paths, vxlan, fast=True, listed=listed)
        except ParseError:  # no file is a capture: the CLI's answers were compared above
            ref_a = new_a = None
        except Exception as e:
            ref_a = new_a = None
            bad.append(f"analyse_files raised {e!r}")
        if ref_a is not None and new_a is not None:
            a, b = json.dumps(ref_a.to_json()), json.dumps(new_a.to_json())
            if a != b or ref_a.warnings() != new_a.warnings():
                bad.append(f"records=True:\nREF {a}\nNEW {b}")
        for p in paths:
            try:
                s, f = stream_rows(p, vxlan), rows_of(p, vxlan)
            except ParseError:
                continue
            except Exception as e:
                bad.append(f"rows of {p.name} raised {e!r}")
                continue
            if s != f:
                diff = [n for n, (x, y) in enumerate(zip(s, f, strict=True)) if x != y]
                bad.append(f"rows of {p.name} differ in fields {diff}: REF {s[1:]} NEW {f[1:]}")
    return bad


def slice_cases(rng: random.Random, source: Path, where: Path) -> tuple[list[Path], str]:
    """A slice of a real capture (about 20,000 packets, its own file header), mutated like the others."""
    blob = source.read_bytes() if not hasattr(slice_cases, "blob") else slice_cases.blob  # type: ignore[attr-defined]
    slice_cases.blob = blob  # type: ignore[attr-defined]
    head = blob[:24]
    order = "<" if head[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    # walk from a random record: the file's records are walked once and their offsets kept
    offs = getattr(slice_cases, "offs", None)
    if offs is None:
        offs, i = [], 24
        while i + 16 <= len(blob):
            offs.append(i)
            i += 16 + struct.unpack_from(order + "I", blob, i + 8)[0]
        slice_cases.offs = offs  # type: ignore[attr-defined]
    n = rng.choice([2000, 20000])
    k = rng.randrange(max(1, len(offs) - n))
    end = offs[k + n] if k + n < len(offs) else len(blob)
    body = bytearray(blob[offs[k] : end])
    what = []
    for _ in range(rng.randint(0, 3)):
        j = rng.randrange(len(body))
        body[j] ^= 1 << rng.randrange(8)
        what.append(f"flip@{j}")
    data, bm = mutate_bytes(rng, head + bytes(body))
    p = where / "slice.pcap"
    p.write_bytes(data)
    return [p], f"slice of {n} at record {k} {what} file={bm}"


def _timeout(signum: int, frame: Any) -> None:
    raise TimeoutError


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path("fuzz-out"))
    ap.add_argument("--slices", type=Path, default=None, help="a real classic pcap to cut slices from")
    ap.add_argument("--slice-share", type=float, default=0.02)
    ap.add_argument("--seconds", type=float, default=float("inf"), help="stop after this much CPU time")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    work = args.out / "work"
    work.mkdir(exist_ok=True)
    failed = 0
    instrument()
    started = time.process_time()
    ran = 0
    for case in range(args.cases):
        if time.process_time() - started > args.seconds:
            break
        for old in work.iterdir():
            old.unlink()
        if args.slices is not None and rng.random() < args.slice_share:
            paths, desc = slice_cases(rng, args.slices, work)
            chunk = 1 << 20
        else:
            paths, desc = make_case(rng, work)
            chunk = rng.choice(CHUNKS)
        text, listed = rng.random() < 0.2, rng.choice([1, 2, 3, 10_000])
        signal.signal(signal.SIGALRM, _timeout)
        signal.alarm(120)  # a case of a few files takes well under a second: a hang is a disagreement too
        try:
            bad = check(paths, chunk, text, listed, rng.choice([(), (), (), (4790,), (6081,), (4790, 80)]))
        except TimeoutError:
            bad = ["no answer within 120 s"]
        finally:
            signal.alarm(0)
        ran += 1
        if bad:
            failed += 1
            keep = args.out / f"case{case}"
            keep.mkdir(exist_ok=True)
            for p in paths:
                (keep / p.name).write_bytes(p.read_bytes())
            (keep / "report.txt").write_text(f"{desc}\nchunk {chunk}\n\n" + "\n\n".join(bad) + "\n")
            print(f"case {case}: DISAGREE ({desc}; chunk {chunk}): {bad[0][:300]}", flush=True)
    cpu = time.process_time() - started
    print(f"{ran} cases, {failed} disagreed, {cpu:.1f} s CPU; fast path at work: {STATS}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
