"""Cluster health checks: beat runs `check_all_clusters` every 30 s, which enqueues
one `check_cluster_health` per cluster on that cluster's cell queue, so a slow or
dead cell only ever delays the workers that serve it."""
from paas.actors import Actor
from paas.tasks import cluster_task, enqueue, idempotent_task

from . import health
from .models import Cluster

#: A check older than one beat interval is worthless; drop it rather than pile up.
CHECK_EXPIRES = 25


@idempotent_task(name="clusters.tasks.check_all_clusters")
def check_all_clusters() -> int:
    clusters = list(Cluster.objects.select_related("cell").only("pk", "cell__slug"))
    for cluster in clusters:
        enqueue(check_cluster_health, args=[cluster.pk], queue=cluster.cell.queue, expires=CHECK_EXPIRES)
    return len(clusters)


@cluster_task(name="clusters.tasks.check_cluster_health")
def check_cluster_health(cluster_id: int) -> str | None:
    cluster = health.check_cluster(cluster_id, actor=Actor.for_system("clusters.health"))
    return cluster.health if cluster is not None else None
