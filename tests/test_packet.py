"""Packet's own __init__ (each slot set by its descriptor) makes what the frozen dataclass's generated one made:
the fields in order with their defaults, by position or keyword, through ``dataclasses.replace``, equal and
hashed alike, still frozen, pickled."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from hairpin.model.net import Flags, Packet


def test_fields_defaults_keywords_replace_equality_hash_frozen_pickle() -> None:
    p = Packet(1, 2, 3, 4)
    assert [f.name for f in dataclasses.fields(Packet)] == ["src", "sport", "dst", "dport", "flags", "seq", "ack",
                                                            "proto", "payload"]  # fmt: skip
    assert dataclasses.astuple(p) == (1, 2, 3, 4, Flags(0), 0, 0, "tcp", b"")
    assert repr(p) == "Packet(src=1, sport=2, dst=3, dport=4, flags=<Flags: 0>, seq=0, ack=0, proto='tcp', payload=b'')"
    q = Packet(src=1, sport=2, dst=3, dport=4, flags=Flags.SYN, seq=7, ack=8, proto="udp", payload=b"x")
    assert dataclasses.astuple(q) == (1, 2, 3, 4, Flags.SYN, 7, 8, "udp", b"x")
    assert dataclasses.replace(p, flags=Flags.SYN, seq=7, ack=8, proto="udp", payload=b"x") == q
    assert p == Packet(1, 2, 3, 4, Flags(0), 0, 0, "tcp", b"") and hash(p) == hash(Packet(1, 2, 3, 4))
    assert p != q and p.with_src(9, 10) == Packet(9, 10, 3, 4) and q.with_dst(9, 10) == dataclasses.replace(q, dst=9,
                                                                                                           dport=10)  # fmt: skip
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.src = 5  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(q)) == q
    with pytest.raises(TypeError):
        Packet(1, 2, 3)  # type: ignore[call-arg]
