"""Make-before-break moves: replicas leave a cluster only once their replacements are ready.

When a re-plan moves replicas from clusters A to clusters B (a cell marked failed or
recovered, a cordon, a binding change), scheduling.apply_plan asks `decide` which rows
to hold: B's rows are applied at once (scale up / create), A's rows keep what they run
and the move is recorded as a Handoff (what each held row becomes once released, and
which rows must be ready first). After the status totals are recomputed
(status.aggregate_pending calls `after_totals`), a handoff whose awaited rows report
their planned replicas ready releases the held rows: they are marked dirty with their
new replica count (or for removal) and synced.

A held cluster that is unreachable (a real outage) is not held: its replicas are lost
anyway, so waiting for it would only delay the removal (break-before-make). A handoff
that waits longer than FEDERATION_HANDOFF_TIMEOUT seconds is shown as stalled with the
clusters it waits for; an operator may force it (`force`).
"""
import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from clusters.models import Cluster
from paas import locks
from paas.actors import Actor
from paas.audit.services import audit_record
from paas.permissions import authorize_platform

from .bulk import update_rows
from .models import FederatedResource, Handoff, Propagation

logger = logging.getLogger(__name__)
State = Propagation.State
TIMEOUT = 300  # seconds (settings.FEDERATION_HANDOFF_TIMEOUT)
SYSTEM = Actor.for_system("federation.handoff")


def timeout() -> timedelta:
    return timedelta(seconds=int(getattr(settings, "FEDERATION_HANDOFF_TIMEOUT", TIMEOUT)))


def ready_replicas(row: Propagation | None) -> int:
    """What the cluster reports ready for this row (0 until status collection saw it)."""
    if row is None:
        return 0
    value = next((v for path, v in (row.status or {}).items() if path.rsplit(".", 1)[-1] == "readyReplicas"), 0)
    return value if isinstance(value, int) else 0


def is_ready(row: Propagation | None, replicas: int) -> bool:
    """The row holds what is planned and the cluster reports that many replicas ready."""
    return (row is not None and row.state == State.APPLIED and not row.dirty
            and ready_replicas(row) >= replicas)


def live_replicas(row: Propagation) -> int | None:
    """Replicas the cluster is asked to run now (None: the row holds nothing)."""
    if row.state in (State.REMOVING, State.REMOVED):
        return None
    return row.planned_replicas or 0


def decide(resource: FederatedResource, rows: dict[int, Propagation], targets: dict[int, int | None],
           unreachable: set[int], *, pending: bool = False) -> tuple[dict[int, int | None], list[int]]:
    """(held rows: cluster pk -> replicas once released (None = remove), cluster pks to wait for).
    `targets`: cluster pk -> planned replicas of the new plan. Nothing is held unless the plan
    gives some cluster more replicas than it runs now, or an earlier move is still pending."""
    if not resource.ftype.has_replicas or resource.deleting:
        return {}, []
    current = {pk: n for pk, row in rows.items() if (n := live_replicas(row)) is not None}
    shrinking = {pk: targets.get(pk) for pk, n in current.items() if pk not in targets or (targets[pk] or 0) < n}
    growing = [pk for pk, n in targets.items() if (n or 0) > current.get(pk, 0)]
    held = {pk: n for pk, n in shrinking.items() if pk not in unreachable}
    if not held or not (growing or pending):
        return {}, []
    waiting = sorted(pk for pk, n in targets.items() if n and not is_ready(rows.get(pk), n))
    return (held, waiting) if waiting else ({}, [])


def record(resource: FederatedResource, held: dict[int, int | None], waiting: list[int], reason: str) -> None:
    """Replace the resource's handoff by this one (none when nothing is held)."""
    Handoff.objects.filter(resource=resource).delete()
    if held:
        Handoff.objects.create(resource=resource, releases={str(pk): n for pk, n in held.items()},
                               waiting=waiting, reason=reason[:200])


def unreachable_clusters() -> set[int]:
    return set(Cluster.objects.filter(health=Cluster.Health.UNREACHABLE).values_list("pk", flat=True))


def still_waiting(handoff: Handoff, rows: dict[int, Propagation]) -> list[int]:
    """The awaited clusters not ready yet (a row gone or no longer placed is not awaited)."""
    left = []
    for pk in handoff.waiting:
        row = rows.get(pk)
        if row is None or live_replicas(row) is None:
            continue
        if not is_ready(row, row.planned_replicas or 0):
            left.append(pk)
    return left


def after_totals(resources) -> int:
    """Release the handoffs of these resources (just recomputed) whose new side is ready;
    returns how many were released. Called by status.aggregate_pending."""
    ids = [r.pk for r in resources]
    if not ids:
        return 0
    released = 0
    for handoff in Handoff.objects.filter(resource_id__in=ids).select_related("resource"):
        rows = {r.cluster_id: r for r in Propagation.objects.filter(resource_id=handoff.resource_id)}
        if not still_waiting(handoff, rows):
            released += release(handoff.pk, actor=SYSTEM, action="federation.handoff.release")
    return released


def release(handoff_pk: int, *, actor: Actor, action: str) -> int:
    """Scale down / remove the held rows of a handoff and sync them; 1 when released, 0 when
    it was gone already (released by another run)."""
    from .scheduling import cluster_info, desired_hash, enqueue_sync

    now = timezone.now()
    with locks.write_turn(), transaction.atomic():
        handoff = (Handoff.objects.select_for_update(of=("self",)).filter(pk=handoff_pk)
                   .select_related("resource__ftype", "resource__tenant", "resource__environment").first())
        if handoff is None:
            return 0
        resource = handoff.resource
        releases = {int(pk): n for pk, n in handoff.releases.items()}
        clusters = {c.pk: c for c in Cluster.objects.select_related("cell__zone__region").defer("credentials")
                    .filter(pk__in=list(releases))}
        changed = []
        for row in Propagation.objects.filter(resource=resource, cluster_id__in=list(releases)):
            target = releases[row.cluster_id]
            if target is None:
                row.state, row.planned_replicas = State.REMOVING, None
            else:
                row.planned_replicas, row.state = target, State.PENDING
                row.desired_hash = desired_hash(resource, cluster_info(clusters[row.cluster_id]), target)
            row.dirty, row.changed_at, row.attempts, row.next_attempt_at = True, now, 0, None
            changed.append(row)
        update_rows(Propagation, changed, ["planned_replicas", "desired_hash", "dirty", "state", "changed_at",
                                           "attempts", "next_attempt_at"])
        slugs = {pk: c.slug for pk, c in clusters.items()}
        audit_record(actor=actor, action=action, target=resource,
                     after={"released": {slugs.get(pk, str(pk)): n for pk, n in releases.items()},
                            "waited_for": handoff.waiting, "reason": handoff.reason,
                            "seconds": int((now - handoff.started_at).total_seconds())})
        handoff.delete()
        enqueue_sync([row.cluster_id for row in changed])
    return 1


def force(*, actor: Actor, handoff: Handoff) -> None:
    """An operator releases a handoff without waiting any longer (its new side may never
    become ready, e.g. the target cluster lacks capacity)."""
    authorize_platform(actor, "clusters.mark_cell_failed", handoff.resource, action="federation.handoff.force")
    release(handoff.pk, actor=actor, action="federation.handoff.force")


def pending(limit: int = 50) -> list[dict]:
    """Make-before-break moves still waiting for their new side, described for the DR pages."""
    return [{**describe(h), "name": str(h.resource)}
            for h in Handoff.objects.select_related("resource__ftype").order_by("started_at")[:limit]]


def describe(handoff: Handoff, *, now=None) -> dict:
    """What a page or the API shows about a pending handoff."""
    now = now or timezone.now()
    rows = {r.cluster_id: r for r in Propagation.objects.filter(resource_id=handoff.resource_id)
            .select_related("cluster")}
    waiting = still_waiting(handoff, rows)
    slugs = dict(Cluster.objects.filter(pk__in=[*waiting, *map(int, handoff.releases)])
                 .values_list("pk", "slug"))
    minutes = int((now - handoff.started_at).total_seconds() // 60)
    stalled = now - handoff.started_at >= timeout()
    names = ", ".join(slugs.get(pk, str(pk)) for pk in waiting)
    message = (_("handoff waiting for %(clusters)s to become ready for %(minutes)s min")
               % {"clusters": names, "minutes": minutes}) if waiting else _("handoff about to be released")
    return {"id": handoff.pk, "resource": handoff.resource_id, "started_at": handoff.started_at.isoformat(),
            "waiting_for": [slugs.get(pk, str(pk)) for pk in waiting],
            "releases": {slugs.get(int(pk), pk): n for pk, n in handoff.releases.items()},
            "stalled": stalled, "message": message, "reason": handoff.reason}
