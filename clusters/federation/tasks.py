"""Celery tasks of the federation engine (thin: take ids, call sync/status).

- sync_cluster / collect_status run on the cluster's cell queue ("cell.<slug>"),
  so a slow or dead cell never holds up another; callers pass queue= explicitly.
- tick (beat, every few seconds): enqueue a sync for every cluster with due dirty
  rows or a namespace/quota to update, and a status collection for every cluster
  that is not known to be down. A cache key per cluster keeps one run at a time.
"""
import logging

from celery.signals import task_retry
from django.core.cache import cache
from django.db.models import F, Q
from django.utils import timezone

from clusters.models import Cluster, PlatformSwitch
from paas.tasks import cluster_task, idempotent_task

from . import metrics, status, sync
from .models import MemberNamespace, Propagation

logger = logging.getLogger(__name__)
LOCK_SECONDS = 150  # longer than ClusterTask.time_limit: a killed run's lock expires by itself
ENQUEUED_SECONDS = 10


@task_retry.connect
def _count_retry(sender=None, **kwargs):
    name = getattr(sender, "name", "") or ""
    if name.startswith("federation."):
        metrics.TASK_RETRIES.labels(name).inc()


def _lock(kind: str, cluster_id: int) -> str:
    return f"federation:{kind}:{cluster_id}"


def _run_once(kind: str, cluster_id: int, work):
    key = _lock(kind, cluster_id)
    cache.delete(_lock(f"queued-{kind}", cluster_id))
    if not cache.add(key, 1, LOCK_SECONDS):
        return {"skipped": "already running"}
    try:
        return work()
    finally:
        cache.delete(key)


@cluster_task(name="federation.sync_cluster")
def sync_cluster(cluster_id: int) -> dict:
    return _run_once("sync", cluster_id, lambda: sync.sync_cluster(cluster_id).as_dict())


@cluster_task(name="federation.collect_status")
def collect_status(cluster_id: int) -> dict:
    return _run_once("collect", cluster_id, lambda: status.collect_status(cluster_id))


def _enqueue(task, kind: str, clusters) -> int:
    sent = 0
    for cluster in clusters.select_related("cell").only("pk", "cell__slug"):
        if cache.add(_lock(f"queued-{kind}", cluster.pk), 1, ENQUEUED_SECONDS):
            task.apply_async(args=[cluster.pk], queue=cluster.cell.queue)
            sent += 1
    return sent


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
    """Beat: enqueue syncs for clusters with due work."""
    return {"sync": _enqueue(sync_cluster, "sync", clusters_due())}


@idempotent_task(name="federation.collect_all")
def collect_all() -> dict:
    """Beat: read status back from every cluster holding federated objects and not known to be down."""
    holding = Propagation.objects.exclude(state=Propagation.State.REMOVED).values("cluster_id")
    clusters = Cluster.objects.filter(pk__in=holding).exclude(health=Cluster.Health.UNREACHABLE)
    return {"collect": _enqueue(collect_status, "collect", clusters)}
