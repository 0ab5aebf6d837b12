"""Checks the registry services run before they write: labels and kubeconfigs.

A kubeconfig is parsed (clusters.kube.parse_kubeconfig), normalised to the one
context it will be used with, and probed over the network before anything is
stored. Nothing derived from it may carry a credential: error messages are
scrubbed of every secret value the kubeconfig holds before they reach a user,
a log line or an exception.
"""
import re

import yaml
from django.utils.translation import gettext as _
from kubernetes import client as k8s
from kubernetes.client.rest import ApiException

from paas import safeinput
from paas.errors import DomainError

from . import kube

MAX_KUBECONFIG_BYTES = 256 * 1024
PROBE_TIMEOUT = (3.0, 5.0)  # (connect, read): registering waits for this at most per call

_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_LABEL_PREFIX = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
#: Topology labels (Cluster.topology_labels) are computed; nobody may set them by hand.
RESERVED_LABEL_PREFIX = "paas.io/"


def clean_labels(labels) -> dict:
    """Kubernetes label syntax for keys and values; DomainError(field="labels") otherwise."""
    if labels in (None, ""):
        return {}
    if not isinstance(labels, dict):
        raise DomainError(_("Labels must be a mapping of keys to values."), field="labels")
    cleaned = {}
    for raw_key, raw_value in labels.items():
        key = str(raw_key).strip()
        value = "" if raw_value is None else str(raw_value).strip()
        prefix, _slash, name = key.rpartition("/")
        if not _LABEL_NAME.match(name) or (prefix and (len(prefix) > 253 or not _LABEL_PREFIX.match(prefix))):
            raise DomainError(_("“%(key)s” is not a valid label key.") % {"key": key}, field="labels")
        if key.startswith(RESERVED_LABEL_PREFIX):
            raise DomainError(_("Label keys starting with “%(prefix)s” are reserved for the platform.")
                              % {"prefix": RESERVED_LABEL_PREFIX}, field="labels")
        if value and not _LABEL_NAME.match(value):
            raise DomainError(_("The value of “%(key)s” is not a valid label value (at most 63 letters, "
                                "digits, “-”, “_” or “.”).") % {"key": key}, field="labels")
        cleaned[key] = value
    return cleaned


def _secret_values(node) -> list[str]:
    """Every string under a kubeconfig's users (tokens, keys, passwords), longest first."""
    found = []
    if isinstance(node, dict):
        for value in node.values():
            found += _secret_values(value)
    elif isinstance(node, list):
        for value in node:
            found += _secret_values(value)
    elif isinstance(node, str) and len(node) >= 6:
        found.append(node)
    return sorted(set(found), key=len, reverse=True)


def _users_section(text: str):
    try:
        loaded = safeinput.load_yaml(text)
    except (yaml.YAMLError, DomainError):
        return None
    return loaded.get("users") if isinstance(loaded, dict) else None


def scrub(message: str, kubeconfig_text: str) -> str:
    """`message` with every credential of the kubeconfig replaced by ***."""
    for secret in _secret_values(_users_section(kubeconfig_text)):
        message = message.replace(secret, "***")
    return message


def parse(kubeconfig_text) -> kube.ParsedKubeconfig:
    text = kubeconfig_text.decode("utf-8", "replace") if isinstance(kubeconfig_text, bytes) else kubeconfig_text
    if not text or not text.strip():
        raise DomainError(_("Paste or upload a kubeconfig."), field="kubeconfig")
    if len(text.encode("utf-8")) > MAX_KUBECONFIG_BYTES:
        raise DomainError(_("The kubeconfig is larger than %(size)s KiB.") % {"size": MAX_KUBECONFIG_BYTES // 1024},
                          field="kubeconfig")
    try:
        return kube.parse_kubeconfig(text)
    except kube.KubeconfigInvalid as exc:
        problem = scrub(str(exc), text)
        raise DomainError(_("The kubeconfig is not usable: %(problem)s") % {"problem": problem},
                          field="kubeconfig") from None


def stored_text(parsed: kube.ParsedKubeconfig) -> str:
    """What is encrypted and stored: the kubeconfig pinned to the context that was validated."""
    return yaml.safe_dump({**parsed.config, "current-context": parsed.context}, sort_keys=False)


def probe(parsed: kube.ParsedKubeconfig, *, name: str) -> str:
    """Reach the API server with these credentials; return its version or raise DomainError.

    /version proves the server answers (real clusters serve it to anyone); listing one
    namespace proves the credentials are accepted.
    """
    api = kube.client_for_kubeconfig(parsed.config, name=name)
    server = parsed.server
    try:
        version = k8s.VersionApi(api).get_code(_request_timeout=PROBE_TIMEOUT)
        k8s.CoreV1Api(api).list_namespace(limit=1, _request_timeout=PROBE_TIMEOUT)
    except ApiException as exc:
        if exc.status in (401, 403):
            message = _("The API server at %(server)s refused these credentials (HTTP %(status)s).")
        else:
            message = _("The API server at %(server)s answered HTTP %(status)s to the connection check.")
        raise DomainError(message % {"server": server, "status": exc.status}, field="kubeconfig") from None
    except Exception as exc:  # urllib3/ssl/socket errors: the server cannot be reached at all
        reason = str(getattr(exc, "reason", "") or exc.__class__.__name__)[:200]
        raise DomainError(
            _("The API server at %(server)s cannot be reached (%(reason)s). Check the address and that the "
              "platform can reach it, or register without the connection check.")
            % {"server": server, "reason": reason}, field="kubeconfig") from None
    finally:
        api.rest_client.pool_manager.clear()
        api.close()
    return version.git_version or ""
