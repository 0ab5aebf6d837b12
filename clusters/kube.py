"""The one way the product talks to a Kubernetes API.

Clients are built from a cluster's stored (encrypted) kubeconfig with the
official `kubernetes` client, and every call gets:
- a finite connect/read timeout (a hung cluster must not hang a worker);
- client-side QPS/burst limiting per cluster (a token bucket, like client-go);
- retries with backoff on 429 and 5xx, honouring Retry-After;
- a call counter (read by metrics and the federation benchmark).
Nothing here knows about the simulator: it is just another API server.
"""
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import yaml
from django.conf import settings
from django.utils.translation import gettext as _
from kubernetes import client as k8s
from kubernetes.config.kube_config import KubeConfigLoader
from urllib3.util.retry import Retry

from paas import safeinput
from paas.errors import DomainError

from .crypto import CredentialsUnreadable, decrypt

logger = logging.getLogger(__name__)
DEFAULT_TIMEOUT = (5.0, 30.0)  # (connect, read) seconds
RETRY_STATUSES = (429, 500, 502, 503, 504)


class KubeconfigInvalid(ValueError):
    """A kubeconfig that cannot be used: the message names what is wrong."""


@dataclass
class ParsedKubeconfig:
    server: str
    context: str
    config: dict


def parse_kubeconfig(text: str) -> ParsedKubeconfig:
    """Validate a pasted/uploaded kubeconfig; return its server and current context."""
    try:
        config = safeinput.load_yaml(text)  # bounded: a pasted kubeconfig is user input (aliases, depth)
    except yaml.YAMLError as exc:
        # The class name only (a YAML error quotes the text, which holds credentials), or what was refused.
        error = exc.problem if isinstance(exc, safeinput.YAMLRefused) else exc.__class__.__name__
        raise KubeconfigInvalid(_("Not valid YAML: %(error)s.") % {"error": error}) from None
    except DomainError as exc:
        raise KubeconfigInvalid(exc.message) from None
    if not isinstance(config, dict) or config.get("kind", "Config") != "Config":
        raise KubeconfigInvalid(_("Not a kubeconfig (expected kind: Config)."))
    for section in ("clusters", "contexts", "users"):
        if not isinstance(config.get(section), list) or not config[section]:
            raise KubeconfigInvalid(_("The kubeconfig has no '%(section)s' entries.") % {"section": section})
    context_name = config.get("current-context") or config["contexts"][0].get("name")
    contexts = {c.get("name"): c.get("context") or {} for c in config["contexts"]}
    if context_name not in contexts:
        raise KubeconfigInvalid(_("current-context '%(context)s' is not among the contexts.")
                                % {"context": context_name})
    cluster_name = contexts[context_name].get("cluster")
    clusters = {c.get("name"): c.get("cluster") or {} for c in config["clusters"]}
    server = clusters.get(cluster_name, {}).get("server", "")
    if not server.startswith(("https://", "http://")):
        raise KubeconfigInvalid(_("The context's cluster has no https:// or http:// server address."))
    try:
        KubeConfigLoader(config_dict=config, active_context=context_name).load_and_set(k8s.Configuration())
    except Exception as exc:  # the loader raises ConfigException and friends
        raise KubeconfigInvalid(_("The kubeconfig cannot be loaded: %(error)s") % {"error": str(exc)[:200]}) from None
    return ParsedKubeconfig(server=server, context=context_name, config=config)


class TokenBucket:
    """QPS limit with burst, shared by all threads calling one cluster."""

    def __init__(self, qps: float, burst: int):
        self.rate, self.capacity = qps, burst
        self.tokens = float(burst)
        self.updated = time.monotonic()
        self.lock = threading.Lock()

    def acquire(self) -> None:
        while True:
            with self.lock:
                now = time.monotonic()
                self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
                self.updated = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                wait = (1 - self.tokens) / self.rate
            time.sleep(wait)


class CallCounter:
    """Kubernetes API calls made by this process, per cluster slug."""

    def __init__(self):
        self.lock = threading.Lock()
        self.calls: dict[str, int] = {}

    def add(self, cluster: str) -> None:
        with self.lock:
            self.calls[cluster] = self.calls.get(cluster, 0) + 1

    def total(self) -> int:
        with self.lock:
            return sum(self.calls.values())

    def reset(self) -> None:
        with self.lock:
            self.calls.clear()


api_calls = CallCounter()


class GuardedApiClient(k8s.ApiClient):
    """ApiClient that applies the rate limit and a default timeout to every call."""

    def __init__(self, configuration, *, cluster_slug: str, bucket: TokenBucket, timeout=DEFAULT_TIMEOUT):
        super().__init__(configuration)
        self.cluster_slug, self.bucket, self.timeout = cluster_slug, bucket, timeout

    def call_api(self, *args, **kwargs):
        if kwargs.get("_request_timeout") is None:
            kwargs["_request_timeout"] = self.timeout
        self.bucket.acquire()
        api_calls.add(self.cluster_slug)
        return super().call_api(*args, **kwargs)


def build_configuration(config: dict) -> k8s.Configuration:
    configuration = k8s.Configuration()
    KubeConfigLoader(config_dict=config).load_and_set(configuration)
    configuration.retries = Retry(
        total=3, connect=2, read=1, backoff_factor=0.3, status_forcelist=RETRY_STATUSES,
        allowed_methods=None, respect_retry_after_header=True, raise_on_status=False,
    )
    # One pooled connection per call a sync or a release keeps in flight to the cluster: reused,
    # never opened per call, and open files stay at clients x this (not threads x clusters). The
    # release executor patches up to RELEASE_ACTION_THREADS pods of a cluster at once; a smaller
    # pool discarded and reopened a connection per patch (urllib3 "Connection pool is full").
    configuration.connection_pool_maxsize = max(1, int(getattr(settings, "FEDERATION_SYNC_CONCURRENCY", 4)),
                                                int(getattr(settings, "RELEASE_ACTION_THREADS", 16)))
    return configuration


def _cache_size() -> int:
    """Clients kept (KUBE_CLIENT_CACHE_SIZE, at least the number of registered clusters in use)."""
    return max(1, int(getattr(settings, "KUBE_CLIENT_CACHE_SIZE", 256)))
_clients: "OrderedDict[tuple, GuardedApiClient]" = OrderedDict()
_buckets: dict[int, TokenBucket] = {}
_lock = threading.Lock()


def api_client(cluster) -> GuardedApiClient:
    """A (cached) client for a Cluster row; rebuilt when the row's credentials change."""
    key = (cluster.pk, cluster.updated_at)
    with _lock:
        found = _clients.get(key)
        if found is not None:
            _clients.move_to_end(key)
            return found
    try:
        configuration = build_configuration(yaml.safe_load(decrypt(cluster.credentials)))
    except CredentialsUnreadable:
        raise
    except Exception as exc:  # the loader raises ConfigException, KeyError, TypeError...
        # Registration validates kubeconfigs, but a row edited since (admin, restore, key mix-up) must
        # read as "cluster unusable", not crash every caller. The loader's own text may quote the
        # credentials, so only the exception's class is named.
        raise CredentialsUnreadable(
            _("The stored kubeconfig cannot be loaded (%(error)s).") % {"error": exc.__class__.__name__}
        ) from None
    with _lock:
        bucket = _buckets.setdefault(
            cluster.pk, TokenBucket(settings.KUBE_CLIENT_QPS, settings.KUBE_CLIENT_BURST))
        built = GuardedApiClient(configuration, cluster_slug=cluster.slug, bucket=bucket)
        retired = [_clients.pop(k) for k in [k for k in _clients if k[0] == cluster.pk]]
        _clients[key] = built
        while len(_clients) > _cache_size():
            retired.append(_clients.popitem(last=False)[1])
    for old in retired:
        _close(old)
    return built


def _close(api: GuardedApiClient) -> None:
    """Release a client's pooled connections (a retired client would otherwise keep its
    sockets open until the garbage collector finds it)."""
    try:
        api.rest_client.pool_manager.clear()
    except Exception as exc:  # closing is best effort: the client is dropped either way
        logger.debug("closing a retired client of %s: %s", api.cluster_slug, exc)


def forget_cluster(cluster_id: int) -> None:
    """Drop the client and rate limiter of a cluster that was removed."""
    with _lock:
        retired = [_clients.pop(k) for k in [k for k in _clients if k[0] == cluster_id]]
        _buckets.pop(cluster_id, None)
    for old in retired:
        _close(old)


def clear_clients(*, close: bool = True) -> None:
    """Drop every cached client (end of a benchmark, tests); close=False in a forked child,
    whose inherited sockets belong to the parent."""
    with _lock:
        retired = list(_clients.values())
        _clients.clear()
        _buckets.clear()
    for old in retired if close else ():
        _close(old)


def cached_clients() -> int:
    with _lock:
        return len(_clients)


def client_for_kubeconfig(config: dict, *, name: str = "unregistered") -> GuardedApiClient:
    """A one-off client, e.g. to probe a kubeconfig before registering it."""
    return GuardedApiClient(build_configuration(config), cluster_slug=name,
                            bucket=TokenBucket(settings.KUBE_CLIENT_QPS, settings.KUBE_CLIENT_BURST))
