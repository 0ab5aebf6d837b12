"""Pod logs on the release page: the logs of the pods the release is updating, across clusters,
filtered by cluster and pod, polled as JSON chunks.

Polled rather than streamed: a follow stream per watcher would hold a daphne worker thread and
a connection to every member cluster for as long as the page is open; a poll every couple of
seconds is one bounded request (per-call timeouts, an overall deadline, a size cap, a few pods).
It reads the kubelet log API of each cluster through clusters/kube.py (CoreV1Api
read_namespaced_pod_log with timestamps, tailLines / sinceSeconds, limitBytes), and only for pods
of this release (PodProgress rows): the page cannot be used to read any other pod's log.

The answer's `cursor` is the time just before the first cluster was asked: every line stamped up to
then is in the answer, so the next poll asks for lines after it (`since`); lines stamped after
it may come twice and the browser drops the duplicates (same pod, time and text)."""
import math
import time
from datetime import datetime

from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.utils.translation import gettext as _
from kubernetes import client as k8s
from kubernetes.client import ApiException

from clusters import kube
from clusters.crypto import CredentialsUnreadable

from .models import PodProgress
from .views_common import load

ACTIVE = (PodProgress.State.OUT_OF_TRAFFIC, PodProgress.State.UPDATING, PodProgress.State.WARMING)
MAX_PODS = 4               # pods read per poll when no pod is chosen
TAIL_LINES = 40            # first poll of a pod: its last lines
MAX_SINCE_SECONDS = 600    # a page that slept longer starts again from the tail
LIMIT_BYTES = 64 * 1024    # per pod and poll
MAX_LINES = 1000           # per answer
DEADLINE_SECONDS = 6.0     # no new cluster call after this
CALL_TIMEOUT = (2.0, 4.0)  # connect, read


def _bad(message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _pods(release, cluster: str, pod: str):
    rows = PodProgress.objects.filter(release=release).select_related("cluster").exclude(
        state=PodProgress.State.GONE)
    if cluster:
        rows = rows.filter(cluster_id=int(cluster))
    if pod:
        return list(rows.filter(name=pod)[:MAX_PODS])
    active = list(rows.filter(state__in=ACTIVE).order_by("-updated_at")[:MAX_PODS])
    return active or list(rows.order_by("-updated_at")[:MAX_PODS])


def _namespace(release, cluster) -> str:
    from clusters.federation.models import MemberNamespace
    from clusters.federation.render import namespace_for

    found = MemberNamespace.objects.filter(cluster=cluster, environment=release.environment).values_list(
        "name", flat=True).first()
    return found or namespace_for(release.tenant.slug, release.environment.slug)


def _stamp(text: str) -> float | None:
    """RFC 3339 with nanoseconds (the kubelet's `timestamps=true` prefix) -> Unix seconds."""
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def _parse(raw: str, since: float | None) -> list[tuple[float, str]]:
    lines = []
    for line in raw.splitlines():
        stamp, _sep, text = line.partition(" ")
        at = _stamp(stamp)
        if at is None or (since is not None and at <= since):
            continue
        lines.append((at, text))
    return lines


def _read(release, row, since: float | None, now: float) -> list[tuple[float, str]]:
    api = k8s.CoreV1Api(kube.api_client(row.cluster))
    kwargs = {"timestamps": True, "limit_bytes": LIMIT_BYTES, "_request_timeout": CALL_TIMEOUT,
              "_preload_content": False}
    if since is None or now - since > MAX_SINCE_SECONDS:
        kwargs["tail_lines"], since = TAIL_LINES, None
    else:
        kwargs["since_seconds"] = max(1, math.ceil(now - since) + 1)
    response = api.read_namespaced_pod_log(row.name, _namespace(release, row.cluster), container=row.component,
                                           **kwargs)
    try:
        raw = response.data.decode("utf-8", "replace")
    finally:
        response.release_conn()
    return _parse(raw, since)


@login_required
def release_logs(request, pk):
    """GET ?cluster=<id>&pod=<name>&since=<unix seconds> -> {cursor, pods, lines, errors}."""
    _actor, release = load(request, pk)  # view permission: visible in a tenant the person sees
    cluster, pod, since = (request.GET.get(k, "") for k in ("cluster", "pod", "since"))
    if cluster and (not (cluster.isascii() and cluster.isdigit()) or len(cluster) > 18):
        return _bad(_("cluster must be a cluster id."))
    if len(pod) > 253:
        return _bad(_("pod must be a pod name."))
    try:
        since_at = float(since) if since else None
    except ValueError:
        return _bad(_("since must be a time in seconds."))
    if since_at is not None and not math.isfinite(since_at):
        return _bad(_("since must be a time in seconds."))
    rows = _pods(release, cluster, pod)
    if pod and not rows:
        return _bad(_("No such pod in this release."), status=404)
    cursor = time.time()
    deadline = cursor + DEADLINE_SECONDS
    lines, errors, read = [], [], []
    for row in rows:
        if time.time() > deadline:
            errors.append({"cluster_slug": row.cluster.slug, "pod": row.name, "error": _("skipped: out of time")})
            continue
        try:
            got = _read(release, row, since_at, cursor)
        except ApiException as exc:
            errors.append({"cluster_slug": row.cluster.slug, "pod": row.name,
                           "error": _("the cluster answered %(status)s") % {"status": exc.status}})
            continue
        except (CredentialsUnreadable, Exception) as exc:  # noqa: BLE001 unreachable, timed out, TLS ...
            errors.append({"cluster_slug": row.cluster.slug, "pod": row.name,
                           "error": _("cluster unreachable (%(error)s)") % {"error": exc.__class__.__name__}})
            continue
        read.append({"cluster": row.cluster_id, "cluster_slug": row.cluster.slug, "pod": row.name,
                     "state": row.state})
        lines.extend({"cluster": row.cluster_id, "cluster_slug": row.cluster.slug, "pod": row.name, "ts": at,
                      "text": text[:2000]} for at, text in got)
    lines.sort(key=lambda line: line["ts"])
    return JsonResponse({"cursor": cursor, "pods": read, "lines": lines[-MAX_LINES:], "errors": errors})
