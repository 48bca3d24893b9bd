"""`hairpin check` on a big cluster dump: wall time and peak memory, next to the cost of just reading it.

    python benchmarks/bench_check.py [--nodes 5000] [--services 10000] [--pods 150000] [--yaml] [--keep DIR]
        [--scripts SHARE] [--folded SHARE] [--last-applied]

Generates a `kubectl get nodes,pods,services,endpointslices -A -o json` style List (kubectl's
4-space indentation) of a cluster over 3 AZs: every Service selects ~pods/services pods through an
EndpointSlice, one in ten is of type LoadBalancer with a mix of controllers and annotations.  Each AZ's
nodes are in a subnet of their own (10.0.0.0/21, 10.0.8.0/21, 10.0.16.0/21 for 5,000 nodes), each AZ's
pods in a /16 of their own from 10.64.0.0 (a secondary CIDR, as custom networking gives pods), at the
addresses EC2 can assign: not the first four or the last of a subnet.  Then runs
`hairpin check DUMP --format json` in a child process and reports its wall time and peak RSS, and the
same for the reference: `python -c 'json.load(open(DUMP))'` (`yaml.load(..., CSafeLoader)` with
--yaml), the least any Python tool pays to read the dump.  The ratio is hairpin's time over that.

What real dumps hold besides, each in the share of objects given (0 to 1, every 1/SHARE-th one):

- ``--scripts SHARE``: a shell script as the first container's ``args`` in that share of the Pods
  (``["-c", "set -e\\necho start\\nexec nginx -g 'daemon off;'"]``), which a YAML dump prints as a
  ``- |-`` block (a sequence entry, strip chomping, as kubectl prints a string without a final line break);
- ``--folded SHARE``: an ``example.com/note`` annotation of 106 characters in that share of the Pods (the
  Pods half-way between two with a script), which the YAML writer folds over two lines as a plain scalar;
- ``--last-applied``: kubectl's ``kubectl.kubernetes.io/last-applied-configuration`` annotation on every
  Service (the applied object as one line of JSON), printed as a ``KEY: |`` block.

With ``--yaml`` every string holding a line break is written as a literal block (kubectl's way; PyYAML
picks ``|`` or ``|-`` from the string's end).  ``--yaml --scripts 0.1 --keep DIR`` writes the 100 MiB dump
with a script in every tenth Pod that docs/performance.md measures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

AZS = ("eu-west-1a", "eu-west-1b", "eu-west-1c")
P = "service.beta.kubernetes.io/"
MIXES: list[dict[str, str]] = [
    {P + "aws-load-balancer-type": "nlb", P + "aws-load-balancer-internal": "true"},
    {P + "aws-load-balancer-type": "external", P + "aws-load-balancer-nlb-target-type": "instance"},
    {P + "aws-load-balancer-type": "external", P + "aws-load-balancer-nlb-target-type": "ip"},
    {P + "aws-load-balancer-type": "nlb-ip", P + "aws-load-balancer-target-group-attributes": "preserve_client_ip.enabled=true"},
    {},
    {P + "aws-load-balancer-type": "external", P + "aws-load-balancer-nlb-target-type": "instance",
     P + "aws-load-balancer-scheme": "internet-facing"},
]  # fmt: skip


def ip(i: int, base: int) -> str:
    return f"10.{base + (i >> 16)}.{(i >> 8) & 255}.{i & 255}"


#: where the nodes' subnets begin, and the pods' (a secondary VPC CIDR, as custom networking gives pods)
NODE_SUBNETS, POD_SUBNETS = 10 << 24, (10 << 24) + (64 << 16)
POD_SUBNET_SIZE = 1 << 16  # /16, the largest subnet EC2 creates


def subnet_size(count: int) -> int:
    """The addresses of the smallest subnet that holds ``count`` instances: a power of two from 16 (/28) to 65,536
    (/16), the sizes EC2 creates, 5 more than ``count`` (AWS reserves the first four addresses and the last of each
    subnet: "Subnet CIDR blocks", Amazon VPC User Guide); more than that fill further subnets of that size."""
    return min(1 << 16, max(16, 1 << (count + 4).bit_length()))


def subnet_ip(first: int, size: int, az: int, k: int) -> str:
    """The ``k``-th address EC2 can assign in AZ number ``az``: its subnets are of ``size`` addresses, one per AZ in
    turn from ``first``, and each subnet's first four addresses and last are AWS's (the network address, the VPC
    router, the DNS server, one for future use, the broadcast address), so a node is never at 10.0.0.1."""
    j, offset = divmod(k, size - 5)
    n = first + (j * len(AZS) + az) * size + 4 + offset
    return f"{n >> 24}.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


SCRIPT = "set -e\necho start\nexec nginx -g 'daemon off;'"
NOTE = "this is a long note that a YAML writer folds over several lines because it is wider than eighty characters"


def _every(share: float) -> int:
    """Every how many objects one gets the extra (0: none)."""
    return 0 if share <= 0 else max(1, round(1 / share))


def generate(
    nodes: int, services: int, pods: int, seed: int = 1, scripts: float = 0.0, folded: float = 0.0,
    last_applied: bool = False,
) -> dict[str, Any]:  # fmt: skip
    rnd = random.Random(seed)
    script_every, fold_every = _every(scripts), _every(folded)
    items: list[dict[str, Any]] = []
    node_size = subnet_size(-(-nodes // len(AZS)))
    node_ip = [subnet_ip(NODE_SUBNETS, node_size, n % len(AZS), n // len(AZS)) for n in range(nodes)]
    for n in range(nodes):
        items.append({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": f"ip-{n}", "uid": f"node-{n}", "labels": {
                "kubernetes.io/hostname": f"ip-{n}", "topology.kubernetes.io/zone": AZS[n % 3],
                "topology.kubernetes.io/region": "eu-west-1", "node.kubernetes.io/instance-type": "m5.large"}},
            "spec": {"providerID": f"aws:///{AZS[n % 3]}/i-{n:017x}"},
            "status": {"addresses": [{"type": "InternalIP", "address": node_ip[n]}, {"type": "Hostname", "address": f"ip-{n}"}],
                       "conditions": [{"type": "Ready", "status": "True"}],
                       "nodeInfo": {"kubeletVersion": "v1.29.3-eks-ae9a62a", "kubeProxyVersion": "v1.29.3-eks-ae9a62a"}},
        })  # fmt: skip
    per_svc = max(1, pods // services)
    endpoints: dict[int, list[dict[str, Any]]] = {}
    in_az = [0] * len(AZS)  # the pods given an address in each AZ so far: the VPC CNI's come from its subnets
    for p in range(pods):
        svc = p // per_svc if p // per_svc < services else rnd.randrange(services)
        node = rnd.randrange(nodes)
        az = node % len(AZS)
        addr = subnet_ip(POD_SUBNETS, POD_SUBNET_SIZE, az, in_az[az])
        in_az[az] += 1
        meta: dict[str, Any] = {"name": f"app{svc}-{p}", "namespace": f"ns{svc % 50}", "uid": f"pod-{p}"}
        if fold_every and p % fold_every == fold_every // 2:
            meta["annotations"] = {"example.com/note": NOTE}
        meta["labels"] = {"app": f"app{svc}", "pod-template-hash": "5d9c7b8f4"}
        container: dict[str, Any] = {"name": "app", "image": "nginx:1.25"}
        if script_every and p % script_every == 0:
            container["args"] = ["-c", SCRIPT]
        container["ports"] = [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
        items.append({
            "apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"nodeName": f"ip-{node}", "containers": [container]},
            "status": {"phase": "Running", "podIP": addr, "hostIP": node_ip[node],
                       "conditions": [{"type": "Ready", "status": "True"}]},
        })  # fmt: skip
        endpoints.setdefault(svc, []).append({"addresses": [addr], "nodeName": f"ip-{node}",
            "conditions": {"ready": True}, "targetRef": {"kind": "Pod", "name": f"app{svc}-{p}", "namespace": f"ns{svc % 50}"}})  # fmt: skip
    for s in range(services):
        lb = s % 10 == 0
        spec: dict[str, Any] = {"type": "LoadBalancer" if lb else "ClusterIP", "clusterIP": ip(s, 100),
                                "selector": {"app": f"app{s}"}, "externalTrafficPolicy": "Local" if s % 70 == 0 else "Cluster",
                                "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP",
                                           **({"nodePort": 30000 + s % 2000} if lb else {})}]}  # fmt: skip
        annotations = dict(MIXES[(s // 10) % len(MIXES)]) if lb else {}
        if last_applied:  # what kubectl apply keeps: the manifest it applied, as one line of JSON
            applied = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": f"app{s}", "namespace": f"ns{s % 50}"},
                       "spec": {"ports": [{"name": "http", "port": 80, "targetPort": "http"}], "selector": {"app": f"app{s}"}}}  # fmt: skip
            la = json.dumps(applied, separators=(",", ":")) + "\n"
            annotations = {"kubectl.kubernetes.io/last-applied-configuration": la, **annotations}
        items.append({"apiVersion": "v1", "kind": "Service",
                      "metadata": {"name": f"app{s}", "namespace": f"ns{s % 50}", "uid": f"svc-{s}",
                                   "annotations": annotations},
                      "spec": spec})  # fmt: skip
        items.append({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
                      "metadata": {"name": f"app{s}-abcde", "namespace": f"ns{s % 50}",
                                   "labels": {"kubernetes.io/service-name": f"app{s}"}},
                      "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
                      "endpoints": endpoints.get(s, [])})  # fmt: skip
    return {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items}


def measure(cmd: list[str]) -> tuple[float, float, int]:
    """(wall seconds, peak RSS MiB, exit code) of a child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return time.perf_counter() - t0, usage.ru_maxrss / 1024, proc.returncode


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nodes", type=int, default=5000)
    ap.add_argument("--services", type=int, default=10000)
    ap.add_argument("--pods", type=int, default=150000)
    ap.add_argument("--yaml", action="store_true", help="write the dump as YAML (kubectl -o yaml) instead of JSON")
    ap.add_argument("--keep", type=Path, help="write the dump into this directory and keep it")
    ap.add_argument(
        "--scripts",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="a shell script (a '- |-' block in YAML) as the args of this share of the Pods",
    )
    ap.add_argument(
        "--folded",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="a long annotation (folded over two lines in YAML) on this share of the Pods",
    )
    ap.add_argument(
        "--last-applied",
        action="store_true",
        help="kubectl's last-applied-configuration annotation (a 'KEY: |' block in YAML) on every Service",
    )
    ap.add_argument("--write", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.write is not None:
        doc = generate(args.nodes, args.services, args.pods, scripts=args.scripts, folded=args.folded,
                       last_applied=args.last_applied)  # fmt: skip
        if args.yaml:
            import yaml

            class Dumper(yaml.CSafeDumper):
                """kubectl's way with a string holding a line break: a literal block."""

            def literal(dumper: yaml.BaseDumper, value: str) -> yaml.ScalarNode:
                style = "|" if "\n" in value else None
                return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

            Dumper.add_representer(str, literal)
            args.write.write_text(yaml.dump(doc, Dumper=Dumper, sort_keys=False))
        else:
            args.write.write_text(json.dumps(doc, indent=4))
        return
    where = args.keep or Path(tempfile.mkdtemp(prefix="hairpin-bench-"))
    where.mkdir(parents=True, exist_ok=True)
    dump = where / ("cluster.yaml" if args.yaml else "cluster.json")
    t0 = time.perf_counter()
    # generate in a child: ru_maxrss survives fork+exec, so the measuring process must stay small
    gen = [sys.executable, __file__, "--write", str(dump), "--nodes", str(args.nodes), "--services",
           str(args.services), "--pods", str(args.pods), *(["--yaml"] if args.yaml else []),
           "--scripts", str(args.scripts), "--folded", str(args.folded), *(["--last-applied"] if args.last_applied else [])]  # fmt: skip
    subprocess.run(gen, check=True)
    if args.yaml:
        ref = f"import yaml; yaml.load(open({str(dump)!r}), Loader=yaml.CSafeLoader)"
    else:
        ref = f"import json; json.load(open({str(dump)!r}))"
    size = dump.stat().st_size / 2**20
    print(f"dump: {args.nodes} nodes, {args.services} services, {args.pods} pods, {size:.0f} MiB "
          f"({'YAML' if args.yaml else 'JSON'}), generated in {time.perf_counter() - t0:.1f} s")  # fmt: skip
    h_t, h_mem, code = measure([sys.executable, "-m", "hairpin.cli.main", "check", str(dump), "--format", "json"])
    r_t, r_mem, _ = measure([sys.executable, "-c", ref])
    print(f"hairpin check : {h_t:6.2f} s  peak {h_mem:7.0f} MiB  exit {code}")
    print(f"reference read: {r_t:6.2f} s  peak {r_mem:7.0f} MiB  ({'yaml CSafeLoader' if args.yaml else 'json.load'})")
    print(f"ratio         : {h_t / r_t:6.2f}x time, {h_mem / r_mem:.2f}x memory")
    if args.keep is None:
        dump.unlink()
        where.rmdir()


if __name__ == "__main__":
    main()
