"""Drill-down pages of a federated workload in one member cluster: tabs Pods | Events |
Logs, their fragments (loaded by htmx so a slow cluster never holds the page), and the
log text, download and live follow. Reading happens in drilldown; here we parse,
check permissions and render."""
from asgiref.sync import sync_to_async
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.text import get_valid_filename

from paas.actors import Actor
from paas.errors import DomainError
from paas.permissions import can

from . import drilldown
from .views import _context, _resource


def _workload(request, slug, env, pk, cluster):
    actor, tenant, environment, resource = _resource(request, slug, env, pk)
    target = drilldown.target_for(resource, cluster)
    return actor, tenant, environment, target


def _page(request, slug, env, pk, cluster, tab, **extra):
    actor, tenant, environment, target = _workload(request, slug, env, pk, cluster)
    context = _context(actor, tenant, environment, resource=target.resource, target=target, tab_drill=tab,
                       can_read_logs=can(actor, "manage_applications", target.resource),
                       clusters=drilldown.clusters_of(target.resource), deadline=f"{drilldown.DEADLINE:g}", **extra)
    return actor, target, context


@login_required
def cluster_pods(request, slug, env, pk, cluster):
    _actor, _target, context = _page(request, slug, env, pk, cluster, "pods")
    return render(request, "federation/cluster_pods.html", context)


@login_required
def cluster_events(request, slug, env, pk, cluster):
    _actor, _target, context = _page(request, slug, env, pk, cluster, "events")
    return render(request, "federation/cluster_events.html", context)


@login_required
def cluster_logs(request, slug, env, pk, cluster):
    actor, target, context = _page(request, slug, env, pk, cluster, "logs",
                                   tail_choices=drilldown.TAIL_CHOICES, default_tail=drilldown.DEFAULT_TAIL,
                                   follow_minutes=f"{drilldown.FOLLOW_SECONDS / 60:g}",
                                   chosen_pod=request.GET.get("pod", "")[:253])
    drilldown.authorize_logs(actor, target.resource, mode="page")
    return render(request, "federation/cluster_logs.html", context)


def _fragment(request, template, target, read, **extra):
    try:
        rows, error = read(target), None
    except DomainError as exc:
        rows, error = [], exc.message
    context = {"target": target, "resource": target.resource, "rows": rows, "error": error,
               "now": timezone.now(), **extra}
    return render(request, template, context)


@login_required
def pods_part(request, slug, env, pk, cluster):
    actor, _tenant, _environment, target = _workload(request, slug, env, pk, cluster)
    can_logs = can(actor, "manage_applications", target.resource)
    return _fragment(request, "federation/cluster_pods_part.html", target, drilldown.pods, can_read_logs=can_logs)


@login_required
def events_part(request, slug, env, pk, cluster):
    _actor, _tenant, _environment, target = _workload(request, slug, env, pk, cluster)
    return _fragment(request, "federation/cluster_events_part.html", target, drilldown.events)


@login_required
def log_pods_part(request, slug, env, pk, cluster):
    """The pod and container choices of the Logs tab."""
    actor, _tenant, _environment, target = _workload(request, slug, env, pk, cluster)
    drilldown.authorize_logs(actor, target.resource, mode="page")
    return _fragment(request, "federation/cluster_log_pods_part.html", target, drilldown.pods,
                     chosen_pod=request.GET.get("pod", "")[:253])


def _log_request(request, slug, env, pk, cluster, mode):
    actor, _tenant, _environment, target = _workload(request, slug, env, pk, cluster)
    drilldown.authorize_logs(actor, target.resource, mode=mode)
    return actor, target, drilldown.log_query(request.GET)


def _text(message: str, status: int) -> HttpResponse:
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


@login_required
def log_text(request, slug, env, pk, cluster):
    """The log as plain text (shown in the page's log box)."""
    try:
        actor, target, query = _log_request(request, slug, env, pk, cluster, "view")
        text = drilldown.pod_log(actor=actor, target=target, query=query, mode="view")
    except DomainError as exc:
        return _text(exc.message, exc.status_code)
    response = _text(text, 200)
    response["Cache-Control"] = "no-store"
    return response


@login_required
def log_download(request, slug, env, pk, cluster):
    try:
        actor, target, query = _log_request(request, slug, env, pk, cluster, "download")
        text = drilldown.pod_log(actor=actor, target=target, query=query, mode="download")
    except DomainError as exc:
        return _text(exc.message, exc.status_code)
    response = _text(text, 200)
    name = get_valid_filename(f"{target.cluster.slug}_{query.pod}_{query.container or 'log'}.log")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
async def log_follow(request, slug, env, pk, cluster):
    """The log streamed while the page reads it (fetch() streaming; see static/js/drilldown.js)."""
    try:
        actor, target, query = await sync_to_async(_log_request)(request, slug, env, pk, cluster, "follow")
    except DomainError as exc:
        return _text(exc.message, exc.status_code)
    user_id = (await sync_to_async(Actor.from_request)(request)).identifier
    try:
        slot = drilldown.followers.acquire(user_id)
    except DomainError as exc:
        return _text(exc.message, exc.status_code)
    try:
        stream = await sync_to_async(drilldown.open_follow, thread_sensitive=False)(target, query)
        await sync_to_async(drilldown.record_log_access)(actor=actor, target=target, query=query, mode="follow")
    except BaseException as exc:
        drilldown.followers.release(user_id, slot)
        if isinstance(exc, DomainError):
            return _text(exc.message, exc.status_code)
        raise
    response = StreamingHttpResponse(drilldown.follow_stream(target, stream, user_id=user_id, slot=slot),
                                     content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "no-store"
    response["X-Accel-Buffering"] = "no"  # a proxy must pass lines on as they come
    return response
