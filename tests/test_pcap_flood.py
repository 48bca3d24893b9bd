"""``hairpin pcap`` on a SYN flood: 200,000 unanswered SYNs from distinct clients, with three hairpins, two
healthy connections and one of each other kind mixed in.  Every count is exact, every hairpin is found, the
fast first pass and the streaming reader give the same JSON, the lists are capped with the number left out,
and the analysis runs in a subprocess under a 600 MiB address-space limit without a traceback."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from hairpin.diagnose import capture
from hairpin.model.net import Flags, Packet, ip_int
from hairpin.parsers.pcap import PacketRecord, write_pcap

FLOOD = 200_000
VIP = ip_int("192.168.168.103")
NODE = ip_int("192.168.2.3")
NODEPORT = 31468
SYN, SYNACK, RST, RSTACK = Flags.SYN, Flags.SYN | Flags.ACK, Flags.RST, Flags.RST | Flags.ACK
T0 = 1000.0


def isn(i: int) -> int:
    """Distinct ISNs: multiplying by an odd number is a bijection modulo 2**32."""
    return (i * 2654435761 + 12345) & 0xFFFFFFFF


def hairpin(t: float, client: int, port: int, n: int) -> list[PacketRecord]:
    """The seed's failure: SYN to the VIP, SYN-ACK from node:NodePort, the client's RST, the SYN again 1 s later."""
    s = isn(n)
    return [PacketRecord(t, None, Packet(client, port, VIP, 80, SYN, s)),
            PacketRecord(t + 0.001, None, Packet(NODE, NODEPORT, client, port, SYNACK, 777, s + 1)),
            PacketRecord(t + 0.002, None, Packet(client, port, NODE, NODEPORT, RST, s + 1)),
            PacketRecord(t + 1.0, None, Packet(client, port, VIP, 80, SYN, s))]  # fmt: skip


def special() -> list[PacketRecord]:
    c = ip_int("172.16.0.9")
    out = hairpin(T0 + 0.5, c, 40001, 10**6) + hairpin(T0 + 1.0, c, 40002, 10**6 + 1)
    out += hairpin(T0 + 1.9, ip_int("172.16.0.10"), 40003, 10**6 + 2)
    for k, t in enumerate((T0 + 0.7, T0 + 1.2)):  # healthy: the SYN-ACK from the called address
        s = isn(10**6 + 10 + k)
        out += [PacketRecord(t, None, Packet(c, 50000 + k, VIP, 80, SYN, s)),
                PacketRecord(t + 0.001, None, Packet(VIP, 80, c, 50000 + k, SYNACK, 9, s + 1))]  # fmt: skip
    s = isn(10**6 + 20)  # server-reset: a RST from the called address
    out += [PacketRecord(T0 + 1.5, None, Packet(c, 50010, VIP, 80, SYN, s)),
            PacketRecord(T0 + 1.501, None, Packet(VIP, 80, c, 50010, RSTACK, 0, s + 1))]  # fmt: skip
    lo, node = ip_int("127.0.0.1"), ip_int("192.168.5.5")
    out.append(PacketRecord(T0 + 1.6, None, Packet(lo, 50011, lo, 8080, SYN, isn(10**6 + 21))))  # loopback
    out.append(PacketRecord(T0 + 1.7, None, Packet(node, 50012, node, 31000, SYN, isn(10**6 + 22))))  # node-loopback
    return out


@pytest.fixture(scope="module")
def flood(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """200,000 SYNs at 100,000 a second (all open at once: 2 s of capture), the others among them."""
    recs = [PacketRecord(T0 + i * 1e-5, None, Packet(ip_int("10.0.0.0") + (i >> 10) * 256 + 1, 1024 + (i & 1023),
                                                     VIP, 80, SYN, isn(i))) for i in range(FLOOD)]  # fmt: skip
    recs = sorted(recs + special(), key=lambda r: r.t)
    # the capture goes on 200 s (a data segment, never a row): no attempt is cut by its end
    recs.append(PacketRecord(T0 + 200, None, Packet(ip_int("10.9.9.9"), 9, VIP, 80, Flags.ACK, 1, 1)))
    path = tmp_path_factory.mktemp("flood") / "flood.pcap"
    write_pcap(path, recs)
    return path


OTHERS = {"loopback": 1, "node-loopback": 1, "server-reset": 1, "unanswered-syn": FLOOD}


def check(res: capture.Analysis, listed: int) -> None:
    assert res.connections == FLOOD + 8 and res.healthy == 2 and res.packets == FLOOD + 21
    assert res.hairpin_count == 3 and res.other_failures == OTHERS
    assert [(str(h.client), str(h.called), str(h.answered_by), h.syn_retransmits) for h in res.hairpins] == [
        ("172.16.0.9:40001", "192.168.168.103:80", "192.168.2.3:31468", 1),
        ("172.16.0.9:40002", "192.168.168.103:80", "192.168.2.3:31468", 1),
        ("172.16.0.10:40003", "192.168.168.103:80", "192.168.2.3:31468", 1),
    ]
    assert res.by("client") == [("172.16.0.9", 2), ("172.16.0.10", 1)]
    assert len(res.others) == listed and res.truncated == {"hairpins": 0, "others": FLOOD + 3 - listed}
    # the earliest by first SYN: the flood's first SYNs, 10 us apart
    assert [str(o.client) for o in res.others[:2]] == ["10.0.0.1:1024", "10.0.0.1:1025"]
    assert [o.first_t for o in res.others] == sorted(o.first_t for o in res.others)


def test_flood_counts_exact_and_hairpins_found_fast_and_streaming(flood: Path) -> None:
    fast = capture.analyse_files([flood], listed=100)
    slow = capture.analyse_files([flood], fast=False, listed=100)
    check(fast, 100)
    check(slow, 100)
    assert fast.to_json() == slow.to_json()
    js = fast.to_json()["summary"]
    assert (js["hairpins"], js["max_listed"], js["truncated"]) == (3, 100, {"hairpins": 0, "others": FLOOD + 3 - 100})


def test_a_listed_cap_past_the_flood_lists_them_all(flood: Path) -> None:
    res = capture.analyse_files([flood], listed=FLOOD + 3)
    assert len(res.others) == FLOOD + 3 and res.truncated == {"hairpins": 0, "others": 0}
    assert sum(o.kind == "unanswered-syn" for o in res.others) == FLOOD


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (600 << 20, 600 << 20))


@pytest.mark.parametrize("fast", [True, False])
def test_flood_in_600_mib(flood: Path, fast: bool, tmp_path: Path) -> None:
    """The CLI (fast path) and the streaming reader, each in a subprocess with 600 MiB of address space."""
    out = tmp_path / "out.json"
    if fast:
        cmd = [sys.executable, "-m", "hairpin.cli.main", "pcap", str(flood), "--format", "json", "-o", str(out)]
    else:
        cmd = [sys.executable, "-c", "import json, sys; from hairpin.diagnose.capture import analyse_files; "
               "open(sys.argv[1], 'w').write(json.dumps(analyse_files([sys.argv[2]], fast=False).to_json()))",
               str(out), str(flood)]  # fmt: skip
    r = subprocess.run(cmd, capture_output=True, text=True, preexec_fn=_limited, timeout=300, env=dict(os.environ),
                       check=False)  # fmt: skip
    assert "Traceback" not in r.stderr and r.returncode == (1 if fast else 0), r.stderr
    js = json.loads(out.read_text())
    assert (js["summary"]["hairpins"], js["summary"]["other_failures"]) == (3, OTHERS)
    assert js["summary"]["truncated"] == {"hairpins": 0, "others": FLOOD + 3 - capture.MAX_LISTED}
    assert len(js["others"]) == capture.MAX_LISTED and len(js["hairpins"]) == 3


def test_text_says_what_was_left_out(flood: Path, tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "hairpin.cli.main", "pcap", str(flood), "--max-listed", "60"],
                       capture_output=True, text=True, timeout=300, check=False, env=dict(os.environ))  # fmt: skip
    assert r.returncode == 1 and r.stderr == ""
    assert "... and 199953 more (--format json lists the first 60; --max-listed N lists more)" in " ".join(r.stdout.split())
    bad = subprocess.run([sys.executable, "-m", "hairpin.cli.main", "pcap", str(flood), "--max-listed", "0"],
                         capture_output=True, text=True, timeout=60, check=False, env=dict(os.environ))  # fmt: skip
    assert bad.returncode == 2 and bad.stderr == "hairpin: error: --max-listed must be at least 1, got 0\n"


def test_forgetting_after_135_s_changes_no_answer(tmp_path: Path) -> None:
    """A SYN a second for an hour, each from its own client with its own ISN, a hairpin every 10 minutes:
    the attempts are forgotten 135 s after their last packet in a file too, and the answer is the one
    with nothing forgotten (every attempt in the list)."""
    recs: list[PacketRecord] = []
    for t in range(3600):
        if t % 600 == 300:
            recs += hairpin(float(t), ip_int("172.16.1.1"), 30000 + t, 10**6 + t)
        else:
            recs.append(PacketRecord(float(t), None, Packet(ip_int("10.1.0.0") + t, 2000, VIP, 80, SYN, isn(t))))
    path = tmp_path / "hour.pcap"
    write_pcap(path, recs)
    an = capture._Analyser(listed=10**6)
    for r in capture.read(path, want=int(Flags.SYN | Flags.RST)):
        an.feed(r)
        # the last 135 s, and the packets since the last look: a look comes every 10 s of capture time once a
        # quarter as many packets as open attempts came since the one before (here 50 s: 4 * 50 >= 136 + 50)
        assert len(an.open) <= 136 + 50
    res = an.result()
    # (the last SYN, at 3599 s, ends the capture: cut by its end, not a failure)
    assert an.expired > 3000 and res.hairpin_count == 6 and res.other_failures == {"unanswered-syn": 3593}
    assert res.cut == 1
    assert [h.gave_up for h in res.hairpins] == [True] * 6 and res.late == 0
    whole = capture._Analyser(listed=10**6)
    whole.next_tick = float("inf")  # never looks: nothing forgotten before the end
    for r in capture.read(path, want=int(Flags.SYN | Flags.RST)):
        whole.feed(r)
    assert len(whole.open) == 3600 and whole.result().to_json() == res.to_json()
