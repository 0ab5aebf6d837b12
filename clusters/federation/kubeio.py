"""The few REST calls the engine makes, on clients from clusters.kube.api_client().

Objects of any type (built-in or CRD) are addressed by path from their
FederatedType, and bodies are read as raw JSON: the engine needs dicts, and
skipping model deserialization matters when thousands of objects are written.
Writes are server-side apply with field manager "paas-federation" and force=true.
"""
import json

import urllib3
from kubernetes.client import ApiException

from .render import MANAGER

APPLY = "application/apply-patch+yaml"
INTERACTIVE_TIMEOUT = (3.0, 10.0)  # a page waiting on a cluster must not hang


class ClusterUnreachable(Exception):
    """No answer from the cluster's API server (refused, reset, timed out)."""


_NETWORK_ERRORS = (urllib3.exceptions.HTTPError, ConnectionError, TimeoutError, OSError)


def request(client, method: str, path: str, *, body=None, content_type: str | None = None, query=None,
            timeout=None):
    headers = {"Accept": "application/json"}
    if content_type:
        headers["Content-Type"] = content_type
    try:
        response = client.call_api(path, method, query_params=list(query or []), header_params=headers, body=body,
                                   auth_settings=["BearerToken"], _preload_content=False,
                                   _return_http_data_only=True, _request_timeout=timeout)
    except ApiException:
        raise
    except _NETWORK_ERRORS as exc:
        raise ClusterUnreachable(_reason(exc)) from exc
    data = response.data
    return json.loads(data) if data else None


def _reason(exc) -> str:
    reason = getattr(exc, "reason", None) or exc
    return f"{exc.__class__.__name__}: {str(reason)[:300]}"


def error_text(exc: Exception) -> str:
    """A short message for the per-cluster error column."""
    if isinstance(exc, ApiException):
        message = ""
        try:
            message = json.loads(exc.body or "{}").get("message", "")
        except (ValueError, AttributeError):
            pass
        return f"{exc.status} {exc.reason}: {message}"[:1000] if message else f"{exc.status} {exc.reason}"
    return str(exc)[:1000]


def apply(client, path: str, obj: dict, *, timeout=None) -> dict:
    return request(client, "PATCH", path, body=obj, content_type=APPLY,
                   query=[("fieldManager", MANAGER), ("force", "true")], timeout=timeout)


def get(client, path: str, *, timeout=None) -> dict | None:
    try:
        return request(client, "GET", path, timeout=timeout)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def delete(client, path: str) -> bool:
    """Delete (background propagation); False when it was already gone."""
    try:
        request(client, "DELETE", path, body={"propagationPolicy": "Background"}, content_type="application/json")
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return True


def list_objects(client, path: str, *, label_selector: str, timeout=None) -> dict:
    return request(client, "GET", path, query=[("labelSelector", label_selector)], timeout=timeout)
