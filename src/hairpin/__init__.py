"""hairpin: the data path of Kubernetes Services on AWS, rebuilt packet by packet.

Faces of one model:
    hairpin.backends.sim    the deterministic simulator (``hairpin reproduce``)
    hairpin.backends.lab    the same system in real kernels (``hairpin lab``)
    hairpin.trace           what a real node does with a packet (``hairpin trace``)
    hairpin.diagnose        the manifest checker and the capture analyser
    hairpin.render          text, JSON, SVG, HTML and pcap pictures of traces

The CLI (``hairpin.cli``) is a thin layer over this library; the library never imports it.
"""

from hairpin.errors import HairpinError, InputError, LabError, ModelError, NotPermitted, ParseError, ScenarioError

__version__ = "0.1.0"

__all__ = [
    "HairpinError",
    "InputError",
    "LabError",
    "ModelError",
    "NotPermitted",
    "ParseError",
    "ScenarioError",
    "__version__",
]
