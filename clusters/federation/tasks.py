"""Celery tasks of the federation engine (thin: take ids, call sync/status).

- sync_cell / collect_status run on the cell's queue ("cell.<slug>"), so a slow or
  dead cell never holds up another; callers pass queue= explicitly. sync_cell syncs
  every cluster of the cell with due work in one run (sync.sync_clusters: a few
  statements for all of them, their calls side by side), so a change costs work in
  proportion to the cells and clusters it touches. sync_cluster does one cluster.
- aggregate_status: the totals of the resources the syncs recorded, once per
  resource, shortly after (requested by each sync, debounced).
- tick (beat, every few seconds): enqueue a sync for every cell with due dirty
  rows or a namespace/quota to update, and a status collection for every cluster
  that is not known to be down.
- One run per cluster and kind at a time: a lock that dies with its holder
  (paas.locks), so a killed worker never leaves a cluster blocked. A short cache
  key ("queued") only avoids piling up duplicate messages; when the cache is down
  it fails open (the lock still keeps runs apart).
"""
import logging

from celery.signals import task_retry
from django.core.cache import cache
from django.db.models import F, Q
from django.utils import timezone

from clusters.models import Cluster, PlatformSwitch
from paas import locks
from paas.tasks import cluster_task, enqueue, idempotent_task

from . import metrics, quota_usage, status, sync
from .models import MemberNamespace, Propagation, StatusBacklog

logger = logging.getLogger(__name__)
ENQUEUED_SECONDS = 10
AGGREGATE_DELAY = 0.3  # seconds


@task_retry.connect
def _count_retry(sender=None, **kwargs):
    name = getattr(sender, "name", "") or ""
    if name.startswith("federation."):
        metrics.TASK_RETRIES.labels(name).inc()


def _queued_key(kind: str, cluster_id: int) -> str:
    return f"federation:queued-{kind}:{cluster_id}"


def lock_name(kind: str) -> str:
    return f"federation.{kind}"


def _run_once(kind: str, cluster_id: int, work):
    _forget_marker(kind, cluster_id)  # the marker only saves duplicate messages; the lock is what counts
    with locks.held(lock_name(kind), cluster_id) as acquired:
        if not acquired:
            return {"skipped": "already running"}
        return work()


@cluster_task(name="federation.sync_cluster")
def sync_cluster(cluster_id: int) -> dict:
    def work():
        report = sync.sync_cluster(cluster_id, aggregate=False)
        if report.recorded:
            request_aggregation()
        return report.as_dict()

    return _run_once("sync", cluster_id, work)


@cluster_task(name="federation.sync_cell")
def sync_cell(cell_id: int) -> dict:
    """Sync every cluster of the cell with due work; a cluster whose sync runs elsewhere is skipped."""
    _forget_marker("sync-cell", cell_id)
    due = list(clusters_due().filter(cell_id=cell_id).order_by("pk").values_list("pk", flat=True))
    with locks.held_many(lock_name("sync"), due) as mine:
        reports = sync.sync_clusters(mine, aggregate=False) if mine else []
    if any(report.recorded for report in reports):
        request_aggregation()
    return {"clusters": [report.as_dict() for report in reports],
            "already_running": sorted(set(due) - set(mine))}


@idempotent_task(name="federation.aggregate_status")
def aggregate_status() -> dict:
    """Recompute the totals of the resources whose clusters recorded since the last run."""
    _forget_marker("aggregate", 0)  # requests from now on send a new run
    return {"changed": status.aggregate_pending()}


def request_aggregation() -> None:
    """Recompute totals shortly: the clusters of one change finish within moments of each
    other, and the short delay lets one run count all of them (once per resource)."""
    _send_once(aggregate_status, "aggregate", 0, countdown=AGGREGATE_DELAY)


@cluster_task(name="federation.collect_status")
def collect_status(cluster_id: int) -> dict:
    return _run_once("collect", cluster_id, lambda: {**status.collect_status(cluster_id),
                                                     **quota_usage.collect_cluster(cluster_id)})


def _send_once(task, kind: str, key: int, *, args=(), **options) -> bool:
    """Send `task` unless one for (kind, key) is queued and not yet started (a short cache
    marker the task clears when it starts). Without a cache it is sent anyway: the locks keep
    duplicate runs apart. A message the broker refused leaves no marker behind, so the next
    tick sends it again."""
    try:
        fresh = cache.add(_queued_key(kind, key), 1, ENQUEUED_SECONDS)
    except Exception:
        logger.warning("cache unavailable: enqueueing %s %s without the marker", kind, key)
        fresh = True
    if not fresh:
        return False
    if enqueue(task, args=list(args), **options):
        return True
    _forget_marker(kind, key)
    return False


def _enqueue(task, kind: str, clusters) -> int:
    return sum(_send_once(task, kind, cluster.pk, args=[cluster.pk], queue=cluster.cell.queue)
               for cluster in clusters.select_related("cell").only("pk", "cell__slug"))


def enqueue_cells(clusters) -> int:
    """One sync_cell per cell of these clusters, on the cell's queue; a cell already queued
    and not yet started is not sent again (the run syncs whatever is due when it starts)."""
    cells = {c.cell_id: c.cell for c in clusters.select_related("cell").only("pk", "cell__slug", "cell_id")}
    return sum(_send_once(sync_cell, "sync-cell", cell_id, args=[cell_id], queue=cell.queue)
               for cell_id, cell in sorted(cells.items()))


def _forget_marker(kind: str, key: int) -> None:
    try:
        cache.delete(_queued_key(kind, key))
    except Exception:
        logger.warning("cache unavailable: could not clear the queued marker %s %s", kind, key)


def clusters_due(now=None):
    """Clusters with work: due dirty rows, or a namespace whose quota changed (none while stopped)."""
    if PlatformSwitch.get().propagation_paused:
        return Cluster.objects.none()
    now = now or timezone.now()
    due = Q(dirty=True) & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
    ids = set(Propagation.objects.filter(due).values_list("cluster_id", flat=True).distinct())
    namespaces_due = (Q(synced_at__lt=F("environment__quota__updated_at")) | Q(applied_hash="")) & (
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
    ids |= set(MemberNamespace.objects.filter(namespaces_due).values_list("cluster_id", flat=True))
    return Cluster.objects.filter(pk__in=ids, propagation_paused=False)


@idempotent_task(name="federation.tick")
def tick() -> dict:
    """Beat: enqueue syncs for clusters with due work, and the totals left to recompute
    (a worker killed between recording and recomputing, or a broker that was down)."""
    figures = {"sync": enqueue_cells(clusters_due())}
    if StatusBacklog.objects.exists():
        request_aggregation()
        figures["aggregate"] = 1
    return figures


@idempotent_task(name="federation.collect_all")
def collect_all() -> dict:
    """Beat: read status back from every cluster holding federated objects and not known to be down."""
    holding = Propagation.objects.exclude(state=Propagation.State.REMOVED).values("cluster_id")
    clusters = Cluster.objects.filter(pk__in=holding).exclude(health=Cluster.Health.UNREACHABLE)
    return {"collect": _enqueue(collect_status, "collect", clusters)}
