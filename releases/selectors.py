"""Reads scoped to what the asking actor may see: a release belongs to its tenant, visible to
whoever sees the tenant (tenants.selectors) and absent (404) for anyone else."""
from django.db.models import Prefetch, QuerySet
from django.http import Http404

from paas.actors import Actor
from tenants.selectors import tenants_visible_to

from .models import PodProgress, Release, ReleaseEvent, ReleaseStep, TrafficProvider
from .services._common import may_release

ACTIONS = ("start", "confirm", "pause", "resume", "abort", "rollback")
MAX_EVENTS_PAGE = 1000


def _id(value) -> int:
    text = str(value)
    if not text.isdecimal() or len(text) > 18:
        raise ValueError(text)
    return int(text)


def releases_visible_to(actor: Actor) -> QuerySet[Release]:
    return (Release.objects.filter(tenant__in=tenants_visible_to(actor))
            .select_related("tenant", "environment", "instance__application", "baseline", "target", "created_by"))


def release_get(actor: Actor, pk) -> Release:
    try:
        return releases_visible_to(actor).get(pk=_id(pk))
    except (Release.DoesNotExist, ValueError):
        raise Http404("No such release.") from None


def release_detail(actor: Actor, pk) -> Release:
    """One release with its steps and their targets (one query each)."""
    try:
        return (releases_visible_to(actor).select_related("instance__baseline")
                .prefetch_related(Prefetch("steps", ReleaseStep.objects.order_by("index")),
                                  "steps__targets__cluster", "steps__confirmed_by").get(pk=_id(pk)))
    except (Release.DoesNotExist, ValueError):
        raise Http404("No such release.") from None


def releases_listed(actor: Actor, *, tenant: str = "", environment: str = "", application: str = "",
                    state: str = "", instance=None) -> QuerySet[Release]:
    rows = releases_visible_to(actor)
    if tenant:
        rows = rows.filter(tenant__slug=tenant)
    if environment:
        rows = rows.filter(environment__slug=environment)
    if application:
        rows = rows.filter(instance__application__name=application)
    if state:
        rows = rows.filter(state=state)
    if instance is not None:
        rows = rows.filter(instance=instance)
    return rows.order_by("-created_at", "-pk")


def events_after(release: Release, seq: int = 0, limit: int = MAX_EVENTS_PAGE) -> list[ReleaseEvent]:
    """Events numbered above `seq`, oldest first, at most `limit` (gap-free: the numbers are)."""
    return list(ReleaseEvent.objects.filter(release=release, seq__gt=seq).order_by("seq")[:limit])


def pods_of(release: Release) -> QuerySet[PodProgress]:
    return release.pods.select_related("cluster__cell__zone__region").order_by("cluster__slug", "component", "name")


def steps_of(release: Release):
    return release.steps.prefetch_related("targets__cluster").order_by("index")


def providers_of(instance) -> QuerySet[TrafficProvider]:
    return instance.traffic_providers.order_by("name")


def provider_get(instance, pk) -> TrafficProvider:
    try:
        return providers_of(instance).get(pk=_id(pk))
    except (TrafficProvider.DoesNotExist, ValueError):
        raise Http404("No such traffic provider.") from None


def available_actions(actor: Actor, release: Release) -> dict[str, bool]:
    """Which buttons to show: the actor may release here and the state allows the action
    (releases/services/actions.py's table; the services check again)."""
    if not may_release(actor, release.environment):
        return dict.fromkeys(ACTIONS, False)
    S = Release.State
    state = release.state
    newest = not Release.objects.filter(instance_id=release.instance_id, number__gt=release.number).exists()
    rollback_final = state in (S.FAILED, S.ABORTED) or (
        state == S.SUCCEEDED and release.instance.baseline_id == release.target_id)
    return {
        "start": state == S.PLANNED,
        "confirm": state == S.WAITING,
        "pause": (state == S.RUNNING and not release.pause_requested) or state == S.WAITING,
        "resume": state == S.PAUSED or (state == S.RUNNING and release.pause_requested),
        "abort": state in (S.PLANNED, S.WAITING, S.PAUSED)
        or (state in Release.DRIVEN_STATES and not release.abort_requested),
        "rollback": (state == S.RUNNING and not release.rollback_requested) or state in (S.WAITING, S.PAUSED)
        or (rollback_final and newest),
    }
