"""Drill-down into a federated workload in one member cluster: its pods, the Events of
the workload, its ReplicaSets and its pods, and pod logs, read live from the cluster.

Every call goes through clusters.kube.api_client() and the official client. A page
waits at most DEADLINE seconds for a member cluster: the call runs on a small shared
pool and is abandoned (it ends on its own request timeout) when the cluster is silent,
so a hung cluster costs the user a sentence ("cluster fed-a1 did not answer in 3 s"),
never a hung page. Who may see what is decided by the callers (views_drill, the API):
pods and events need view_tenant, logs need manage_applications and are audited.
"""
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import UTC, datetime

from django.http import Http404
from django.utils.translation import gettext as _
from kubernetes.client import ApiException, CoreV1Api

from clusters import kube
from clusters.crypto import CredentialsUnreadable
from paas.errors import DomainError

from . import kubeio, sensitive
from . import labels as label_selectors
from .models import Propagation
from .render import RenderError, get_path, namespace_for, render

DEADLINE = kubeio.INTERACTIVE_TIMEOUT[0]  # seconds a page waits for a member cluster
_REQUEST_TIMEOUT = (DEADLINE, DEADLINE)  # the abandoned call ends soon after the page gave up
TAIL_CHOICES = (50, 200, 1000, 5000)
DEFAULT_TAIL = 200
MAX_TAIL = TAIL_CHOICES[-1]
MAX_SINCE_SECONDS = 30 * 24 * 3600
MAX_LOG_BYTES = 8 * 1024 * 1024  # a view or download never holds more than this in memory
MAX_EVENTS = 200
EVENTS_LIST_LIMIT = 2000  # events read from the namespace per look (newest kept)
FOLLOW_SECONDS = 10 * 60  # a followed log ends after this (the page offers to follow again)
MAX_FOLLOWERS_PER_USER = 3  # open follows per user in this process
POD_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
CONTAINER_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")

_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="drilldown")


class MemberClusterError(DomainError):
    """The member cluster did not answer in time, is unreachable, or refused the read."""

    status_code = 504
    code = "cluster_unavailable"


class TooManyFollowers(DomainError):
    status_code = 429
    code = "too_many_follows"


@dataclass
class Target:
    """One federated workload in one member cluster."""

    resource: object
    cluster: object
    namespace: str
    selector: dict | None  # the rendered object's spec.selector

    @property
    def label_selector(self) -> str:
        return selector_string(self.selector)


def is_workload(resource) -> bool:
    return resource.ftype.has_replicas and resource.ftype.namespaced


def target_for(resource, cluster_slug: str) -> Target:
    """The workload in that cluster; 404 for a non-workload or a cluster it is not placed on."""
    if not is_workload(resource) or not isinstance(cluster_slug, str) or len(cluster_slug) > 100:
        raise Http404("No such workload in that cluster.")
    row = (resource.propagations.select_related("cluster").filter(cluster__slug=cluster_slug)
           .exclude(state=Propagation.State.REMOVED).first())
    if row is None:
        raise Http404("No such workload in that cluster.")
    namespace = namespace_for(resource.tenant.slug, resource.environment.slug)
    return Target(resource, row.cluster, namespace, _selector(resource, row.cluster, namespace))


def clusters_of(resource) -> list:
    """The clusters the workload is placed on (for the cluster switcher)."""
    rows = resource.propagations.select_related("cluster").exclude(state=Propagation.State.REMOVED)
    return sorted((row.cluster for row in rows), key=lambda c: c.slug)


def _selector(resource, cluster, namespace: str) -> dict | None:
    """spec.selector of what this cluster is given (overrides may change it)."""
    try:
        obj = render(resource.template, namespace=namespace, planned_replicas=None, replicas_path="",
                     overrides=resource.overrides, cluster_slug=cluster.slug, cluster_labels=cluster.labels or {},
                     resource_id=resource.pk, generation=resource.generation)
    except RenderError:
        obj = resource.template
    selector = get_path(obj, "spec.selector")
    if not isinstance(selector, dict):
        return None
    try:
        label_selectors.check_selector(selector, "spec.selector")
    except label_selectors.SelectorError:
        return None
    return selector if selector.get("matchLabels") or selector.get("matchExpressions") else None


def selector_string(selector: dict | None) -> str:
    """{matchLabels, matchExpressions} as the API's labelSelector query."""
    parts = [f"{k}={v}" for k, v in sorted((selector or {}).get("matchLabels", {}).items())]
    for expr in (selector or {}).get("matchExpressions") or ():
        key, operator, values = expr["key"], expr["operator"], ",".join(expr.get("values") or ())
        parts.append({"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})",
                      "Exists": key, "DoesNotExist": f"!{key}"}[operator])
    return ",".join(parts)


# --- asking the member cluster ---------------------------------------------------------

def ask(cluster, call, *, deadline: float | None = None):
    """call(client) on the shared pool; MemberClusterError in words when it fails or is late."""
    deadline = DEADLINE if deadline is None else deadline
    try:
        client = kube.api_client(cluster)
    except CredentialsUnreadable as exc:
        raise MemberClusterError(_("Cluster %(cluster)s cannot be used: %(error)s")
                                 % {"cluster": cluster.slug, "error": exc}) from None
    future = _pool.submit(call, client)
    try:
        return future.result(timeout=deadline)
    except FutureTimeout:
        future.cancel()
        raise MemberClusterError(_("Cluster %(cluster)s did not answer in %(seconds)s s.")
                                 % {"cluster": cluster.slug, "seconds": f"{deadline:g}"}) from None
    except kubeio.ClusterUnreachable as exc:
        raise MemberClusterError(_("Cluster %(cluster)s is unreachable (%(error)s).")
                                 % {"cluster": cluster.slug, "error": exc}) from None
    except ApiException as exc:
        if exc.status == 404:
            raise MemberClusterError(_("Cluster %(cluster)s does not hold that object (any more).")
                                     % {"cluster": cluster.slug}, code="not_found") from None
        raise MemberClusterError(_("Cluster %(cluster)s refused the read: %(error)s")
                                 % {"cluster": cluster.slug, "error": kubeio.error_text(exc)}) from None


def _list(client, path: str, query=()) -> list[dict]:
    return (kubeio.request(client, "GET", path, query=list(query), timeout=_REQUEST_TIMEOUT) or {}).get("items") or []


# --- pods --------------------------------------------------------------------------------

def parse_time(value) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _reason(pod: dict) -> tuple[str, str]:
    """Why the pod is not simply running, as kubectl's STATUS column would say, and the message."""
    status = pod.get("status") or {}
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return "Terminating", ""
    for container in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        state = container.get("state") or {}
        for key in ("waiting", "terminated"):
            detail = state.get(key)
            if detail and detail.get("reason") and not (key == "terminated" and detail.get("exitCode") == 0):
                return detail["reason"], detail.get("message") or ""
    for condition in status.get("conditions") or ():
        if condition.get("status") == "False" and condition.get("reason") and condition.get("type") == "PodScheduled":
            return condition["reason"], condition.get("message") or ""
    return status.get("reason") or "", status.get("message") or ""


def pod_row(pod: dict) -> dict:
    meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    statuses = status.get("containerStatuses") or []
    containers = spec.get("containers") or []
    reason, message = _reason(pod)
    return {
        "name": meta.get("name", ""),
        "phase": status.get("phase") or "Unknown",
        "reason": reason,
        "message": message,
        "ready": sum(1 for s in statuses if s.get("ready")),
        "containers_total": len(containers),
        "restarts": sum(int(s.get("restartCount") or 0) for s in statuses),
        "node": spec.get("nodeName") or "",
        "pod_ip": status.get("podIP") or "",
        "created": parse_time(meta.get("creationTimestamp")),
        "images": [c.get("image", "") for c in containers],
        "containers": [c.get("name", "") for c in (spec.get("initContainers") or []) + containers],
    }


def pods(target: Target) -> list[dict]:
    """The workload's pods in the cluster, oldest first (as the ReplicaSet made them)."""
    if target.selector is None:
        return []
    items = ask(target.cluster, lambda client: _list(
        client, f"/api/v1/namespaces/{target.namespace}/pods", [("labelSelector", target.label_selector)]))
    rows = [pod_row(pod) for pod in items]
    return sorted(rows, key=lambda r: (r["created"] or datetime.min.replace(tzinfo=UTC), r["name"]))


# --- events ------------------------------------------------------------------------------

def _owned_names(target: Target, pod_items, replica_sets) -> dict[str, set[str]]:
    """Object names by kind whose Events belong to this workload (deleted pods included:
    a Deployment's pods are named <rs>-<5>, its ReplicaSets <name>-<hash>)."""
    kind, name = target.resource.ftype.kind, target.resource.name
    return {kind: {name}, "ReplicaSet": {(rs.get("metadata") or {}).get("name") for rs in replica_sets},
            "Pod": {(p.get("metadata") or {}).get("name") for p in pod_items}}


def _belongs(target: Target, names: dict, involved: dict) -> bool:
    kind, name = involved.get("kind", ""), involved.get("name", "")
    if name in names.get(kind, ()):
        return True
    base = re.escape(target.resource.name)
    if target.resource.ftype.kind == "Deployment":
        pattern = {"ReplicaSet": rf"{base}-[a-z0-9]+", "Pod": rf"{base}-[a-z0-9]+-[a-z0-9]{{5}}"}.get(kind)
    elif target.resource.ftype.kind == "StatefulSet":
        pattern = rf"{base}-\d+" if kind == "Pod" else None
    else:
        pattern = None
    return bool(pattern and re.fullmatch(pattern, name))


def event_row(event: dict, values) -> dict:
    involved = event.get("involvedObject") or {}
    series = event.get("series") or {}
    last = (parse_time(series.get("lastObservedTime")) or parse_time(event.get("lastTimestamp"))
            or parse_time(event.get("eventTime")) or parse_time((event.get("metadata") or {}).get("creationTimestamp")))
    first = parse_time(event.get("firstTimestamp")) or parse_time(event.get("eventTime")) or last
    source = event.get("source") or {}
    return {
        "type": event.get("type") or "Normal",
        "reason": event.get("reason") or "",
        "object": f"{involved.get('kind', '')}/{involved.get('name', '')}",
        "message": sensitive.scrub(event.get("message") or "", values),
        "count": int(event.get("count") or series.get("count") or 1),
        "first_seen": first,
        "last_seen": last,
        "source": source.get("component") or event.get("reportingComponent") or "",
    }


def events(target: Target) -> list[dict]:
    """Events of the workload, its ReplicaSets and its pods, newest first."""
    selector = target.label_selector

    def read(client):
        base = f"/api/v1/namespaces/{target.namespace}"
        found = _list(client, f"{base}/events", [("limit", str(EVENTS_LIST_LIMIT))])
        pod_items = _list(client, f"{base}/pods", [("labelSelector", selector)]) if selector else []
        replica_sets = (_list(client, f"/apis/apps/v1/namespaces/{target.namespace}/replicasets",
                              [("labelSelector", selector)])
                        if selector and target.resource.ftype.kind == "Deployment" else [])
        return found, pod_items, replica_sets

    found, pod_items, replica_sets = ask(target.cluster, read)
    names = _owned_names(target, pod_items, replica_sets)
    values = sensitive.resource_values(target.resource)
    rows = [event_row(e, values) for e in found if _belongs(target, names, e.get("involvedObject") or {})]
    rows.sort(key=lambda r: r["last_seen"] or datetime.min.replace(tzinfo=UTC), reverse=True)
    return rows[:MAX_EVENTS]


# --- logs --------------------------------------------------------------------------------

@dataclass(frozen=True)
class LogQuery:
    pod: str
    container: str = ""
    tail_lines: int | None = DEFAULT_TAIL
    since_seconds: int | None = None
    timestamps: bool = False

    def params(self) -> dict:
        params = {"timestamps": self.timestamps}
        if self.container:
            params["container"] = self.container
        if self.tail_lines is not None:
            params["tail_lines"] = self.tail_lines
        if self.since_seconds is not None:
            params["since_seconds"] = self.since_seconds
        return params


def _number(raw, field: str, low: int, high: int) -> int | None:
    if raw in (None, ""):
        return None
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise DomainError(_("Give a whole number."), field=field) from None
    if not low <= value <= high:
        raise DomainError(_("Give a number from %(low)s to %(high)s.") % {"low": low, "high": high}, field=field)
    return value


def log_query(data, *, default_tail: int | None = DEFAULT_TAIL) -> LogQuery:
    """Parse and bound the log options of a page or API request (DomainError naming the field)."""
    pod = str(data.get("pod") or "")
    if not POD_NAME.fullmatch(pod):
        raise DomainError(_("Choose a pod of this workload."), field="pod")
    container = str(data.get("container") or "")
    if container and not CONTAINER_NAME.fullmatch(container):
        raise DomainError(_("No such container."), field="container")
    tail = _number(data.get("tailLines", data.get("tail")), "tailLines", 1, MAX_TAIL)
    since = _number(data.get("sinceSeconds"), "sinceSeconds", 1, MAX_SINCE_SECONDS)
    timestamps = str(data.get("timestamps") or "").lower() in ("1", "true", "on", "yes")
    return LogQuery(pod=pod, container=container, tail_lines=tail if tail is not None else default_tail,
                    since_seconds=since, timestamps=timestamps)


def _check_pod(target: Target, client, query: LogQuery) -> None:
    """The pod must be one of this workload's (the namespace may hold others) and have the container."""
    pod = kubeio.get(client, f"/api/v1/namespaces/{target.namespace}/pods/{query.pod}", timeout=_REQUEST_TIMEOUT)
    labels = ((pod or {}).get("metadata") or {}).get("labels") or {}
    if pod is None or target.selector is None or not label_selectors.matches(target.selector, labels):
        raise DomainError(_("Pod %(pod)s is not a pod of this workload in cluster %(cluster)s.")
                          % {"pod": query.pod, "cluster": target.cluster.slug}, field="pod", code="not_found")
    names = pod_row(pod)["containers"]
    if query.container and query.container not in names:
        raise DomainError(_("Pod %(pod)s has no container %(container)s.")
                          % {"pod": query.pod, "container": query.container}, field="container")


def read_log(target: Target, query: LogQuery, *, limit_bytes: int = MAX_LOG_BYTES) -> str:
    """The pod's log (tail / since / container / timestamps), at most limit_bytes."""
    def read(client):
        _check_pod(target, client, query)
        return CoreV1Api(client).read_namespaced_pod_log(
            query.pod, target.namespace, limit_bytes=limit_bytes, _request_timeout=_REQUEST_TIMEOUT, **query.params())

    return ask(target.cluster, read) or ""


def open_follow(target: Target, query: LogQuery):
    """The streamed log response (urllib3, not yet read), or MemberClusterError in words.
    The caller reads it on a thread and must close it."""
    holder: dict = {"abandoned": False}
    lock = threading.Lock()

    def open_stream(client):
        _check_pod(target, client, query)
        response = CoreV1Api(client).read_namespaced_pod_log(
            query.pod, target.namespace, follow=True, _preload_content=False,
            _request_timeout=(DEADLINE, FOLLOW_SECONDS), **query.params())
        with lock:
            if holder["abandoned"]:  # the page gave up waiting: nobody will read or close it
                response.release_conn()
                return None
        return response

    try:
        return ask(target.cluster, open_stream)
    except MemberClusterError:
        with lock:
            holder["abandoned"] = True
        raise


class Followers:
    """Open follows per user in this process (bounded: a follow holds a thread and a connection).

    A slot also expires on its own after the longest follow, so a stream Django never
    started iterating (its `finally` never runs) cannot lock the user out for good."""

    def __init__(self, limit: int, lifetime: float):
        self.limit, self.lifetime, self.open, self.lock = limit, lifetime, {}, threading.Lock()

    def acquire(self, user_id) -> object:
        now = time.monotonic()
        with self.lock:
            slots = {k: v for k, v in self.open.get(user_id, {}).items() if v > now}
            if len(slots) >= self.limit:
                raise TooManyFollowers(_("You already follow %(n)s logs; stop one first.") % {"n": self.limit})
            slot = object()
            slots[slot] = now + self.lifetime
            self.open[user_id] = slots
            return slot

    def release(self, user_id, slot) -> None:
        with self.lock:
            slots = self.open.get(user_id, {})
            slots.pop(slot, None)
            if not slots:
                self.open.pop(user_id, None)

    def count(self, user_id) -> int:
        now = time.monotonic()
        with self.lock:
            return sum(1 for expiry in self.open.get(user_id, {}).values() if expiry > now)


followers = Followers(MAX_FOLLOWERS_PER_USER, FOLLOW_SECONDS + 60)


async def follow_stream(target: Target, response, *, user_id, slot, seconds: float = FOLLOW_SECONDS):
    """The log's bytes as they come (an async generator for StreamingHttpResponse).

    A thread reads the cluster's stream and hands chunks to the event loop; the follow
    ends after `seconds`, when the cluster ends the stream, or when the page goes away
    (Django cancels the generator on disconnect; closing the response ends the thread).
    The caller has acquired a follower slot for user_id; it is released here."""
    import asyncio

    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()
    end = object()

    stopped = threading.Event()

    def hand_over(item) -> None:
        if not stopped.is_set():
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the loop is gone: nobody reads any more
                stopped.set()

    def pump():
        try:
            for chunk in response.stream(4096, decode_content=True):
                if stopped.is_set():
                    return
                hand_over(chunk)
        except Exception as exc:  # closed under us, read timeout, reset: the follow ends either way
            hand_over(exc)
        finally:
            hand_over(end)

    thread = threading.Thread(target=pump, name="drilldown-follow", daemon=True)
    thread.start()
    stop_at = loop.time() + seconds
    try:
        while True:
            remaining = stop_at - loop.time()
            if remaining <= 0:
                yield ("\n" + _("— Following stopped after %(minutes)s minutes. —") % {
                    "minutes": f"{seconds / 60:g}"} + "\n").encode()
                return
            try:
                item = await asyncio.wait_for(queue.get(), timeout=remaining)
            except TimeoutError:
                continue
            if item is end:
                return
            if isinstance(item, Exception):
                yield ("\n" + _("— Cluster %(cluster)s ended the log stream. —") % {
                    "cluster": target.cluster.slug} + "\n").encode()
                return
            yield item
    finally:
        stopped.set()
        response.close()  # wakes the reading thread, which then ends
        followers.release(user_id, slot)


def record_log_access(*, actor, target: Target, query: LogQuery, mode: str) -> None:
    """Who read which pod's log where (never the log itself)."""
    from paas.audit.services import audit_record

    audit_record(actor=actor, action=f"federation.logs.{mode}", target=target.resource,
                 after={"cluster": target.cluster.slug, "namespace": target.namespace, "pod": query.pod,
                        "container": query.container, "tailLines": query.tail_lines,
                        "sinceSeconds": query.since_seconds})


def pod_log(*, actor, target: Target, query: LogQuery, mode: str = "view") -> str:
    """A pod's log for `actor` (mode "view" or "download"): permission, read, audit, in that
    order, so no caller can read without the record or record without the check."""
    authorize_logs(actor, target.resource, mode=mode)
    text = read_log(target, query)
    record_log_access(actor=actor, target=target, query=query, mode=mode)
    return text


def authorize_logs(actor, resource, *, mode: str) -> None:
    """Logs may hold secrets: only who may manage the tenant's applications reads them."""
    from paas.permissions import authorize

    authorize(actor, "manage_applications", resource, action=f"federation.logs.{mode}")
