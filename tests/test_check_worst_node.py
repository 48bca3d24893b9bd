"""The node a verdict names (``Finding.worst_node``): the least name among the nodes of the worst caller's class.

``hairpin.diagnose.check`` keeps each AZ's registered nodes sorted once per target-node labels and takes the
first (or, under ``externalTrafficPolicy: Local``, the least healthy one, or the first one that is not);
these tests hold it to the rule it replaces, ``min`` over the registered nodes of the class, on node sets
whose insertion order differs from their sorted order.
"""

from __future__ import annotations

from fractions import Fraction as F

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hairpin.aws import node_labels
from hairpin.kube.apivalidation import go_trim_space as go_trim
from test_check import INTERNAL, TT, TYPE, A, B, node, one, pod, service

INSTANCE = {TYPE: "external", TT: "instance"}
# inserted out of order: a3 before a1, b2 before b1; the names sort otherwise than they come
NODES = [node("a3", A, "10.0.1.12"), node("a1", A, "10.0.1.10"), node("a2", A, "10.0.1.11"),
         node("b2", B, "10.0.2.11"), node("b1", B, "10.0.2.10")]  # fmt: skip


def test_the_least_name_of_the_worst_az_is_named() -> None:
    f = one(service(ann=INSTANCE), *NODES)
    # AZ a: 1/3 averaged over 2 AZ addresses = 1/6; AZ b: 1/2 / 2 = 1/4: the worst caller is in b
    assert (f.probability, f.worst_node) == (F(1, 4), "b1")


def test_two_services_with_the_same_labels_name_the_same_node() -> None:
    r1 = one(service("one", ann=INSTANCE), *NODES)
    r2 = one(service("two", ann=INSTANCE), *NODES)
    assert r1.worst_node == r2.worst_node == "b1"


def test_local_policy_names_the_least_healthy_node() -> None:
    pods = [pod("w1", "b2", "10.0.2.50"), pod("w2", "a3", "10.0.1.50"), pod("w3", "a2", "10.0.1.51")]
    f = one(service(ann=INSTANCE, etp="Local"), *NODES, *pods)
    # healthy: a2, a3 (AZ a), b2 (AZ b): a caller on b2 gets 1/1 of its AZ, averaged over 2 = 1/2
    assert (f.probability, f.worst_node) == (F(1, 2), "b2")
    assert "caller on node b2 (eu-west-1b)" in f.reason


def test_local_policy_without_a_ready_endpoint_names_the_least_node_of_the_first_az() -> None:
    """No node passes the health check: the class of callers on unhealthy nodes, AZ a first, is the worst."""
    pods = [pod("w1", "b2", "10.0.2.50", ready=False), pod("w2", "a3", "10.0.1.50", ready=False)]
    f = one(service(ann=INSTANCE, etp="Local"), *NODES, *pods)
    assert (f.at_risk, f.probability, f.worst_node) == (True, F(1, 5), "a1")
    assert "a caller on node a1 (eu-west-1a) is sent back to its own node with P = 1/5 (20.0%)" in f.reason
    assert "externalTrafficPolicy Local: 0 node(s) with a ready endpoint pass the health check" in f.reason


def test_local_policy_without_endpoints_in_the_input_says_what_it_assumed() -> None:
    # no pods, no EndpointSlices: nothing says which nodes have a ready endpoint, so none is claimed
    f = one(service(ann=INSTANCE, etp="Local"), *NODES)
    assert (f.at_risk, f.probability, f.worst_node) == (True, F(1, 4), "b1")
    assert (
        "; externalTrafficPolicy Local, but the input has no pods or EndpointSlices: every registered node assumed "
        "to pass the health check (only nodes with a ready endpoint do; give them for the exact P)); "
    ) in f.reason
    assert "node(s) with a ready endpoint pass" not in f.reason


def test_subnets_annotation_says_p_assumes_every_az() -> None:
    subnets = "service.beta.kubernetes.io/aws-load-balancer-subnets"
    f = one(service(ann={**INSTANCE, subnets: "subnet-0a1"}), *NODES)
    assert (f.at_risk, f.probability) == (True, F(1, 4))  # unchanged: the subnets' AZs are not in the input
    assert f.warnings == [
        f"{subnets} names the NLB's subnets; their AZs are not in Kubernetes objects, and P assumes the NLB has an "
        "address in every AZ with nodes (eu-west-1a, eu-west-1b): an NLB in fewer AZs sends every connection to the "
        "targets in its own AZs, so a caller there is sent back to its own node more often than P says, and a caller "
        "elsewhere never is"
    ]
    # cross-zone on too (targets in an AZ the NLB is not in get no traffic); no nodes: no P to doubt
    xz = "service.beta.kubernetes.io/aws-load-balancer-cross-zone-load-balancing-enabled"
    assert one(service(ann={**INSTANCE, subnets: "subnet-0a1", xz: "true"}), *NODES).warnings == f.warnings
    assert one(service(ann={**INSTANCE, subnets: "subnet-0a1"})).warnings == []


LABELS = "service.beta.kubernetes.io/aws-load-balancer-target-node-labels"
LINUX = {"kubernetes.io/os": "linux"}
# the same five nodes, each labelled kubernetes.io/os=linux, b1 also role=edge
LABELLED = [node(n["metadata"]["name"], n["metadata"]["labels"]["topology.kubernetes.io/zone"],
                 n["status"]["addresses"][0]["address"],
                 {**LINUX, **({"role": "edge"} if n["metadata"]["name"] == "b1" else {})}) for n in NODES]  # fmt: skip


@pytest.mark.parametrize("value", ["kubernetes.io/os", "kubernetes.io/os=", " kubernetes.io/os "])
def test_in_tree_target_node_labels_without_a_value_match_any_value(value: str) -> None:
    # cloud-provider-aws filterTargetNodes: an empty value matches any value of the key: all five nodes
    f = one(service(ann={TYPE: "nlb", INTERNAL: "true", LABELS: value}), *LABELLED)
    assert (f.at_risk, f.probability, f.worst_node) == (True, F(1, 4), "b1")
    assert "instance targets limited to nodes labelled kubernetes.io/os (any value)" in f.settings.steps


def test_in_tree_target_node_labels_do_not_trim_around_the_equals_sign() -> None:
    # "role = edge" is the key "role " with the value " edge" to the provider: no node has it
    f = one(service(ann={TYPE: "nlb", INTERNAL: "true", LABELS: "role = edge"}), *LABELLED)
    assert (f.at_risk, f.probability) == (False, F(0))
    f = one(service(ann={TYPE: "nlb", INTERNAL: "true", LABELS: "role=edge"}), *LABELLED)
    assert (f.at_risk, f.probability, f.worst_node) == (True, F(1), "b1")


def test_lbc_target_node_labels_need_key_value_pairs() -> None:
    # ParseStringMapAnnotation fails on a piece without '=': the model build fails, nothing is built
    f = one(service(ann={**INSTANCE, LABELS: "kubernetes.io/os"}), *LABELLED)
    assert (f.at_risk, f.settings.controller, f.settings.load_balancer) == (False, "none", "none")
    assert f.settings.problems == (f"{LABELS}: 'kubernetes.io/os' is not key=value (\"failed to parse stringMap "
                                   "annotation\") (the controller refuses the Service)",)  # fmt: skip
    # trimmed pairs are matchLabels: "role = edge" selects b1; an empty value selects only empty label values
    f = one(service(ann={**INSTANCE, LABELS: "role = edge"}), *LABELLED)
    assert (f.at_risk, f.probability, f.worst_node) == (True, F(1), "b1")
    assert one(service(ann={**INSTANCE, LABELS: "kubernetes.io/os="}), *LABELLED).at_risk is False
    # ip targets: the annotation is not read
    ip = {**INSTANCE, TT: "ip", "service.beta.kubernetes.io/aws-load-balancer-target-group-attributes":
          "preserve_client_ip.enabled=true"}  # fmt: skip
    assert one(service(ann={**ip, LABELS: "kubernetes.io/os"})).settings.controller == "aws-load-balancer-controller"


_TOKEN = st.text(st.characters(blacklist_characters=",=\\", blacklist_categories=("Cs",)), max_size=8)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(_TOKEN.filter(lambda k: go_trim(k) != ""), _TOKEN, max_size=4))
def test_lbc_selector_reads_back_the_pairs_it_is_given(pairs: dict[str, str]) -> None:
    raw = ",".join(f"{k}={v}" for k, v in pairs.items())
    got = node_labels.selector(raw, in_tree=False)
    want: dict[str, str] = {}
    for k, v in pairs.items():
        want[go_trim(k)] = go_trim(v)
    assert (got.refused, got.keys, got.labels) == (None, (), tuple(sorted(want.items())))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_in_tree_selector_takes_any_text(raw: str) -> None:
    got = node_labels.selector(raw, in_tree=True)
    assert got.refused is None
    assert all(k and "," not in k and "=" not in k for k, _ in got.labels) and all(v for _, v in got.labels)
    assert all(k and "," not in k and "=" not in k for k in got.keys)
    assert not {k for k, _ in got.labels} & set(got.keys)
