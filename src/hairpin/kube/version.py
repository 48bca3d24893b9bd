"""The live cluster's Kubernetes version, from the API server's ``/version`` (``gitVersion``).

Read-only; a cluster that refuses the call (RBAC, an old proxy) yields None and the checker falls back
to the nodes' kubelet versions, a lower bound of the control plane's (the version skew policy lets
kubelets lag the API server).
"""

from __future__ import annotations

from typing import Any

from hairpin.aws.cloud_provider import Version, parse_version
from hairpin.errors import InputError
from hairpin.kube.answers import Budget

__all__ = ["live_server_version"]


def live_server_version(kubeconfig: str | None = None, context: str | None = None) -> tuple[Version, str] | None:
    """(version, 'the API server's /version: v1.33.4-eks-...') or None when the server does not say."""
    try:
        from kubernetes import client, config
    except ImportError as exc:  # pragma: no cover - kubernetes is a dependency
        raise InputError(f"the kubernetes Python client is not installed: {exc}") from None
    try:
        api_client = config.new_client_from_config(config_file=kubeconfig, context=context)  # type: ignore[no-untyped-call]
    except Exception as exc:  # the loader raises ConfigException, OSError, TypeError...
        raise InputError(f"cannot load kubeconfig: {exc}", kubeconfig or "~/.kube/config") from None
    try:
        resp: Any = client.VersionApi(api_client).get_code(_preload_content=False)
        data = Budget("/version", 1 << 20).json(resp, "reading /version")  # a version is a few hundred bytes
        git = str(data.get("gitVersion") or "")
        return parse_version(git, "/version"), f"the API server's /version: {git}"
    except Exception:  # 403/404, connection errors (reported by the list calls), a malformed answer
        return None
