"""What a valid scenario file says that is most likely a mistake: a warning line each, naming the file, the key
and its line, given once when the file is loaded (``hairpin.scenario.from_dict`` keeps them in
``Scenario.warnings``; ``scenario validate``, ``reproduce``, ``sweep`` and ``lab`` print them on stderr).

Contradictions the file cannot mean (an unknown pod, an AZ the VPC lacks) are errors in ``hairpin.scenario``;
what is here is a setting AWS accepts and hairpin simulates, but whose result an operator rarely wants:

- ``load_balancer.target_node_labels`` that no node carries, on instance targets: the AWS Load Balancer
  Controller registers only the nodes carrying every label (the ``aws-load-balancer-target-node-labels``
  annotation; ``hairpin.aws.nlb.targets`` does the same), so the load balancer has no target at all and every
  connection through it times out.  A label typed wrong reads the same, so it is said when the file is loaded,
  not only after a run (``hairpin.story.elsewhere``).
- ``load_balancer.target_node_labels`` on ip targets: the controller reads the annotation "for ``instance``
  target type" only (aws-load-balancer-controller docs/guide/service/annotations.md, target-node-labels);
  the targets are the endpoints' pods, on whatever node they run, so the labels change nothing, which an
  operator who set them to keep traffic off some nodes would want to know.
"""

from __future__ import annotations

from collections.abc import Callable

from hairpin.errors import ScenarioError
from hairpin.model.scenario import Scenario

__all__ = ["warnings"]


def warnings(s: Scenario, where: Callable[[str, str], ScenarioError]) -> tuple[str, ...]:
    """The warning lines of ``s`` (without ``hairpin: warning:``); ``where(path, why)`` is the error naming
    ``path``'s file and line, whose one line a warning is."""
    out: list[str] = []
    for i, svc in enumerate(s.services):
        lb = svc.load_balancer
        if lb is None or not lb.target_node_labels:
            continue
        if lb.target_type != "instance":
            why = (f"read for instance targets only: the load balancer of {svc.namespace}/{svc.name} has "
                   f"{lb.target_type} targets, the endpoints' pods on whatever node they run, so the labels "
                   "select nothing")  # fmt: skip
            out.append(where(f"services[{i}].load_balancer.target_node_labels", why).one_line())
            continue
        want = dict(lb.target_node_labels)
        if any(all(dict(n.labels).get(k) == v for k, v in want.items()) for n in s.nodes):
            continue
        asked = ", ".join(f"{k}={v}" for k, v in want.items())
        seen = sorted({f"{k}={v}" for n in s.nodes for k, v in n.labels if k in want and v != want[k]})
        near = f" (nodes carry {', '.join(seen)})" if seen else ""
        why = (f"no node carries {asked}{near}: the load balancer of {svc.namespace}/{svc.name} registers no "
               "instance target, so every connection through it times out; check the labels against nodes[].labels")  # fmt: skip
        out.append(where(f"services[{i}].load_balancer.target_node_labels", why).one_line())
    return tuple(out)
