"""Plain values shared by every face of hairpin: packets, endpoints, TCP flags and trace hops.

Everything here is a frozen dataclass or an enum and does no I/O, so the simulator, the lab, the
tracer, the capture analyser and the renderers can pass these values around and compare them.
``hairpin.model.scenario`` is what a scenario is; ``hairpin.model.trace`` what a node trace found (its
records, put into words when read).
"""

from hairpin.model.hop import Hop
from hairpin.model.net import Endpoint, Flags, Packet, ip, ip_int, ip_str

__all__ = ["Endpoint", "Flags", "Hop", "Packet", "ip", "ip_int", "ip_str"]
