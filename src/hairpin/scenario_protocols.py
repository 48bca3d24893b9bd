"""Which Service port protocols a scenario's run follows, and a one-line refusal for the port it cannot.

The simulator and the lab make **TCP connections** from the scenario's client: ``hairpin.tcp.Connector`` in the
simulator, a real ``connect()`` in the lab (``hairpin.backends.lab``).  They call the client's Service on its
**first port**: the NLB's listener and targets are that port's (``hairpin.aws.nlb.targets_for``, ``Nlb``), and
so are the ClusterIP calls (``hairpin.backends.sim``).  A UDP first port would be called with TCP segments that
kube-proxy's ``-p udp`` rules never match, and the run would report the TCP outcome of a Service that does not
listen on TCP: a confident, wrong answer.  ``refuse_client_protocol`` raises for it, at the key's line.

UDP ports elsewhere (a Service's later ports, other Services) are kept: kube-proxy's rules for them are written
as kube-proxy writes them (``hairpin.kube.proxy``, ``hairpin.kube.nftables``, ``hairpin.kube.ipvs``: ``-p udp``,
``meta l4proto udp``, ``-u``), and no packet of the run is UDP.  What a UDP caller sees through the NLB (no
answer, rather than a SYN timeout) is ``hairpin check``'s to say (``hairpin.diagnose.check``).  SCTP ports are
refused where they are read (``protocol`` is TCP or UDP).
"""

from __future__ import annotations

from collections.abc import Callable

from hairpin.errors import ScenarioError
from hairpin.model.scenario import Service

__all__ = ["refuse_client_protocol"]


def refuse_client_protocol(svc: Service, index: int, error: Callable[[str, str], ScenarioError]) -> None:
    """Raise ``error(key path, message)`` when the port the client calls (the first port of ``svc``, the
    scenario's ``services[index]``) is not TCP."""
    if svc.ports and svc.ports[0].protocol != "TCP":
        raise error(f"services[{index}].ports[0].protocol",
                    f"{svc.ports[0].protocol} is not modelled on the port the client calls (the Service's first "
                    "port): the simulator and the lab make TCP connections only; list a TCP port first "
                    "(hairpin check judges UDP ports)")  # fmt: skip
