"""Client retries are not a fix: the arithmetic of retrying a connection that can be hairpinned.

A retry is a new connection: a new source port, so a new NLB flow hash and a fresh, independent chance
``p`` of landing on the caller's own node (``hairpin.aws.nlb``: the hash covers the 5-tuple and more).
A request with ``n`` retries therefore fails only when all ``n + 1`` attempts time out, with probability
``p ** (n + 1)``, and every failed attempt costs the full connect timeout first (127 s with
``tcp_syn_retries=6``), unless the client sets its own shorter connect timeout.  The rate falls, it does
not reach zero, and the tail latency of the requests that needed a retry stays at minutes.  With ``p = 1``
(e.g. externalTrafficPolicy Local with the only healthy target in the caller's AZ being its own node),
retries change nothing at all.

``summary(run, n)`` measures it on a simulated run: consecutive connections form requests of ``n + 1``
attempts, and a request fails when each of its attempts timed out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hairpin.tcp import syn_schedule

if TYPE_CHECKING:
    from hairpin.backends.sim import Run

__all__ = ["Retries", "all_fail", "summary"]


def all_fail(p: float, retries: int) -> float:
    """The chance that a request and its ``retries`` retries all time out."""
    return float(p) ** (retries + 1)


@dataclass(frozen=True)
class Retries:
    retries: int
    requests: int
    failed: int
    expected: float
    per_attempt: float
    attempt_timeout_s: float

    @property
    def rate(self) -> float:
        return self.failed / self.requests if self.requests else 0.0

    def to_json(self) -> dict[str, Any]:
        return {"retries": self.retries, "requests": self.requests, "failed": self.failed, "rate": round(self.rate, 6),
                "expected_rate": round(self.expected, 6), "per_attempt_rate": round(self.per_attempt, 6),
                "attempt_timeout_s": self.attempt_timeout_s}  # fmt: skip

    def text(self) -> str:
        return (
            f"With {self.retries} retr{'y' if self.retries == 1 else 'ies'} per request (each a new connection, so a "
            f"new flow hash and the same {self.per_attempt:.1%} chance): {self.failed}/{self.requests} requests "
            f"failed ({self.rate:.2%}), expected {self.per_attempt:.3f}^{self.retries + 1} = {self.expected:.2%}. "
            f"Each failed attempt first waits {self.attempt_timeout_s:g} s: retries are not a fix."
        )


def summary(run: Run, retries: int) -> Retries:
    """Requests of ``retries + 1`` consecutive connections of ``run``; a request fails if all time out."""
    k = retries + 1
    conns = run.connections
    requests = len(conns) // k
    failed = sum(all(c.outcome == "timeout" for c in conns[i * k : (i + 1) * k]) for i in range(requests))
    p = run.summary.expected_rate
    kernel = run.scenario.kernel
    _, give_up = syn_schedule(kernel.tcp_syn_retries, kernel.tcp_syn_linear_timeouts)
    return Retries(retries, requests, failed, all_fail(p, retries), p, give_up)
