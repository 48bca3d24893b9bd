"""Reading a live cluster through the Kubernetes API: the objects ``hairpin check --live`` and
``scenario from-cluster --live`` read (list calls for Nodes, Pods, Services, EndpointSlices, webhook
configurations and the AWS Load Balancer Controller's Deployments; kube-proxy's ConfigMaps, Cilium's
``kube-system/cilium-config`` (``hairpin.kube.datapath``) and OpenShift's cloud config ConfigMap by name; the VPC
CNI's DaemonSet ``kube-system/aws-node`` by name; the Gateway API lists), paged, each failure one line.
docs/check.md gives the ClusterRole this needs.
"""

from __future__ import annotations

import os
from typing import Any

from hairpin import reading
from hairpin.aws.cloud_config import OPENSHIFT
from hairpin.errors import InputError
from hairpin.kube.answers import Budget
from hairpin.kube.cluster import (
    PROXY_CONFIG_MAPS,
    mapping_of,
)
from hairpin.kube.datapath import AWS_NODE, CILIUM_CONFIG
from hairpin.kube.gateway_live import live_gateway_objects
from hairpin.parsers.manifests import KubeObject

__all__ = ["api_client", "kubeconfig_files", "live_objects"]


def kubeconfig_files(kubeconfig: str | None) -> tuple[list[str], str]:
    """The kubeconfig files the Kubernetes client reads and how to name them in an error: ``--kubeconfig``,
    else ``$KUBECONFIG`` (a list joined by ``os.pathsep``; named ``KUBECONFIG=...`` as set), else
    ``~/.kube/config`` (the client's order: kubernetes-client/python ``config/kube_config.py``,
    ``KUBE_CONFIG_DEFAULT_LOCATION``)."""
    if kubeconfig is not None:
        return [kubeconfig], kubeconfig
    if os.environ.get("KUBECONFIG"):
        value = os.environ["KUBECONFIG"]
        return [f for f in value.split(os.pathsep) if f], f"KUBECONFIG={value}"
    return [os.path.expanduser("~/.kube/config")], "~/.kube/config"


def api_client(kubeconfig: str | None, context: str | None) -> Any:
    """The Kubernetes client's ApiClient for ``kubeconfig`` and ``context``; a file it cannot load is one line
    naming the file(s) it read."""
    try:
        from kubernetes import config
    except ImportError as exc:  # pragma: no cover - kubernetes is a dependency
        raise InputError(f"the kubernetes Python client is not installed: {exc}") from None
    # The client reads $KUBECONFIG once, when it is imported (``KUBE_CONFIG_DEFAULT_LOCATION``); it is given here
    # as read now, so the files checked above and the files loaded are the same ones.
    files = kubeconfig if kubeconfig is not None else os.environ.get("KUBECONFIG") or None
    try:
        return config.new_client_from_config(config_file=files, context=context)  # type: ignore[no-untyped-call]
    except Exception as exc:  # the loader raises ConfigException, OSError, TypeError...
        why = next((s.strip() for s in str(exc).splitlines() if s.strip()), type(exc).__name__)
        raise InputError(f"cannot load kubeconfig: {why}", kubeconfig_files(kubeconfig)[1]) from None


def _check_kubeconfig(kubeconfig: str | None) -> None:
    """Read each kubeconfig file the client would read through ``hairpin.reading`` first (size, UTF-8, depth,
    no aliases), so a hostile one is one line naming it; the client then loads it as usual.  The files are
    ``--kubeconfig``, else ``$KUBECONFIG`` (a list joined by ``os.pathsep``), else ``~/.kube/config``."""
    for f in kubeconfig_files(kubeconfig)[0]:
        if not os.path.exists(f):
            if kubeconfig is not None:
                raise InputError("cannot load kubeconfig: no such file", f)
            continue
        data = reading.load_yaml(reading.read_text(f), f)
        if data is not None and not isinstance(data, dict):
            raise InputError(f"cannot load kubeconfig: expected a mapping, got {type(data).__name__}", f)


def live_objects(kubeconfig: str | None = None, context: str | None = None) -> list[KubeObject]:
    """Nodes, Pods, Services, EndpointSlices, MutatingWebhookConfigurations, kube-proxy's ConfigMap and the AWS
    Load Balancer Controller's Deployments (its feature gates) from the API server.

    Read-only: list calls, paged (limit 500), and a get by name of each of kube-proxy's ConfigMaps, Cilium's and
    OpenShift's, and of the VPC CNI's DaemonSet kube-system/aws-node (the ClusterRole in docs/check.md grants
    exactly these); the raw JSON is decoded directly (much faster than the client's model objects for large
    clusters).  Errors become ``InputError``.
    """
    try:
        from kubernetes import client
        from kubernetes.client.exceptions import ApiException
    except ImportError as exc:  # pragma: no cover - kubernetes is a dependency
        raise InputError(f"the kubernetes Python client is not installed: {exc}") from None
    _check_kubeconfig(kubeconfig)
    api = api_client(kubeconfig, context)
    core = client.CoreV1Api(api)
    discovery = client.DiscoveryV1Api(api)
    admission = client.AdmissionregistrationV1Api(api)

    def lbc_deployments(**kw: Any) -> Any:  # the AWS Load Balancer Controller's (its Helm chart's label)
        apps = client.AppsV1Api(api)
        return apps.list_deployment_for_all_namespaces(
            label_selector="app.kubernetes.io/name=aws-load-balancer-controller", **kw
        )

    calls: list[tuple[str, Any]] = [
        ("Node", core.list_node),
        ("Pod", core.list_pod_for_all_namespaces),
        ("Service", core.list_service_for_all_namespaces),
        ("EndpointSlice", discovery.list_endpoint_slice_for_all_namespaces),
        ("MutatingWebhookConfiguration", admission.list_mutating_webhook_configuration),
        ("Deployment", lbc_deployments),
    ]
    out: list[KubeObject] = []
    where = f"context {context}" if context else "the current context"
    budget = Budget(where)  # every answer of this read together: at most the input limit
    for kind, call in calls:
        token: str | None = None
        pages = budget.pages(f"listing {kind}s")
        while True:
            try:
                kw: dict[str, Any] = {"limit": 500, "_preload_content": False}
                if token:
                    kw["_continue"] = token
                data = budget.json(call(**kw), f"listing {kind}s")
            except InputError:
                raise
            except ApiException as exc:
                if kind in ("MutatingWebhookConfiguration", "Deployment") and exc.status in (401, 403, 404):
                    break  # optional: whether the LBC webhook is installed, the LBC's flags
                raise InputError(f"listing {kind}s failed: {exc.status} {exc.reason}", where) from None
            except Exception as exc:  # connection refused, TLS, bad JSON
                raise InputError(f"listing {kind}s failed: {exc}", where) from None
            if not isinstance(data, dict):
                raise InputError(f"listing {kind}s failed: the API server answered a {type(data).__name__}", where)
            items = data.get("items") or []
            if not isinstance(items, list):
                raise InputError(f"listing {kind}s failed: the API server's items are not a list", where)
            out.extend(KubeObject(kind, item, None, None) for item in items if isinstance(item, dict))
            token = pages.next(mapping_of(data.get("metadata")).get("continue"))
            if not token:
                break
    # kube-proxy's mode: each of its ConfigMaps read by name (get), never a list of kube-system's ConfigMaps,
    # which would also return aws-auth and every other secret-adjacent ConfigMap there.  Optional: without
    # the ConfigMap (404) or the permission (401/403) iptables is assumed and noted.
    # The AWS cloud provider's cloud config, likewise by name: OpenShift's (hairpin.aws.cloud_config); without it
    # NLBSecurityGroupMode is unknown and the verdicts that depend on it are warnings.  Cilium's settings, likewise
    # (its kube-proxy-replacement, hairpin.kube.datapath): without them the agents' pods still say what they can.
    names = [("kube-system", n) for n in PROXY_CONFIG_MAPS] + [("kube-system", CILIUM_CONFIG), OPENSHIFT[:2]]
    gets: list[tuple[str, str, str, Any]] = [("ConfigMap", ns, n, core.read_namespaced_config_map) for ns, n in names]
    # The VPC CNI's DaemonSet, likewise by name (never a list of DaemonSets): its pod template is what a new or
    # replaced aws-node pod gets (hairpin.kube.cni_mode).  Optional: without it the aws-node pods alone say the
    # CNI's settings.
    gets.append(("DaemonSet", *AWS_NODE, client.AppsV1Api(api).read_namespaced_daemon_set))
    for kind, ns, name, read in gets:
        what = f"reading {kind} {ns}/{name}"
        try:
            item = budget.json(read(name, ns, _preload_content=False), what)
        except InputError:
            raise
        except ApiException as exc:
            if exc.status in (401, 403, 404):
                continue
            raise InputError(f"{what} failed: {exc.status} {exc.reason}", where) from None
        except Exception as exc:  # connection refused, TLS, bad JSON
            raise InputError(f"{what} failed: {exc}", where) from None
        if isinstance(item, dict):
            out.append(KubeObject(kind, item, None, None))
    out.extend(live_gateway_objects(api, budget))
    return out


# ---------------------------------------------------------------------------------------------- scenario
