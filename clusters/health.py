"""Health of a member cluster, as seen through its own API (clusters.kube).

`probe()` only reads the cluster; `cluster_record_health()` writes what it saw.
A probe runs every 30 s per cluster (clusters.tasks), so the audit trail records
a health change only when the state changes (healthy -> unreachable, ...), never
the probes themselves.
"""
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from kubernetes import client as k8s
from kubernetes.client.rest import ApiException

from paas.actors import Actor
from paas.audit.services import audit_record
from paas.realtime import emit

from . import kube
from .crypto import CredentialsUnreadable
from .models import Cluster, EnvironmentBinding

HEALTH_TIMEOUT = (3.0, 10.0)  # (connect, read) per call: a hung cluster must not hold a worker
PAGE_SIZE = 500


@dataclass(frozen=True)
class HealthReport:
    health: str
    version: str = ""
    nodes: int | None = None
    pods: int | None = None
    error: str = ""


def count_items(list_call) -> int:
    """How many objects a list call would return, fetching as little as possible.

    One item with limit=1 carries `remainingItemCount` when the server knows it;
    otherwise page through and count.
    """
    page = list_call(limit=1, _request_timeout=HEALTH_TIMEOUT)
    remaining = page.metadata.remaining_item_count
    if remaining is not None:
        return len(page.items) + remaining
    total, token = len(page.items), page.metadata._continue
    while token:
        page = list_call(limit=PAGE_SIZE, _continue=token, _request_timeout=HEALTH_TIMEOUT)
        total, token = total + len(page.items), page.metadata._continue
    return total


def probe(cluster: Cluster) -> HealthReport:
    try:
        api = kube.api_client(cluster)
        version = k8s.VersionApi(api).get_code(_request_timeout=HEALTH_TIMEOUT).git_version or ""
        core = k8s.CoreV1Api(api)
        nodes = count_items(core.list_node)
        pods = count_items(core.list_pod_for_all_namespaces)
    except CredentialsUnreadable:
        return HealthReport(Cluster.Health.ERROR, error="The stored credentials cannot be decrypted or loaded; replace them.")
    except ApiException as exc:
        return HealthReport(Cluster.Health.ERROR, error=f"HTTP {exc.status} {exc.reason or ''}".strip())
    except Exception as exc:  # connection refused, timeout, TLS: the API cannot be reached
        reason = getattr(exc, "reason", None) or exc
        return HealthReport(Cluster.Health.UNREACHABLE, error=f"{exc.__class__.__name__}: {reason}"[:500])
    return HealthReport(Cluster.Health.HEALTHY, version=version, nodes=nodes, pods=pods)


def cluster_record_health(*, actor: Actor, cluster: Cluster, report: HealthReport) -> Cluster:
    """Store a probe's result; audit and notify only when the health state changes."""
    now = timezone.now()
    with transaction.atomic():
        locked = Cluster.objects.select_for_update().filter(pk=cluster.pk).first()
        if locked is None:
            return cluster  # removed while it was being probed
        fields = {"health": report.health, "last_error": report.error, "last_checked_at": now}
        if report.health == Cluster.Health.HEALTHY:
            fields.update(kube_version=report.version, node_count=report.nodes, pod_count=report.pods)
        # update(), not save(): updated_at keys the cached API client and must not move every 30 s.
        Cluster.objects.filter(pk=locked.pk).update(**fields)
        previous = locked.health
        for key, value in fields.items():
            setattr(locked, key, value)
        if previous != report.health:
            audit_record(actor=actor, action="cluster.health.change", target=locked,
                         before={"health": previous}, after={"health": report.health, "error": report.error})
            bound = Q(cluster=locked) | Q(cell_id=locked.cell_id)
            for tenant_id in EnvironmentBinding.objects.filter(bound).values_list(
                    "environment__tenant_id", flat=True).distinct():
                emit.to_tenant(tenant_id, {"type": "cluster.health", "name": locked.name, "slug": locked.slug,
                                           "health": report.health}, permission="view_tenant")
    return locked


def check_cluster(cluster_id: int, *, actor: Actor) -> Cluster | None:
    """Probe one cluster and record the result; None when it no longer exists."""
    cluster = Cluster.objects.select_related("cell").filter(pk=cluster_id).first()
    if cluster is None:
        return None
    return cluster_record_health(actor=actor, cluster=cluster, report=probe(cluster))
