"""Status flowing back: per-cluster status rows, and the federated total.

collect_status(cluster) lists the managed objects of each federated type in the
cluster with one label-selected list call per type (paas.io/managed-by), and
writes the type's status_fields into each Propagation whose object changed
(resourceVersion differs). aggregate_many() then sums desired / replicas /
updated / ready / available over the clusters and keeps each cluster's
conditions, on FederatedResource.status.

An object that is gone from a cluster where it was applied (someone deleted it)
makes its row dirty again, so the next sync puts it back.
"""
import logging

from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone
from kubernetes.client import ApiException

from clusters import kube
from clusters.crypto import CredentialsUnreadable
from clusters.models import Cluster
from paas import locks
from paas.realtime import emit

from . import handoff, health, kubeio, sensitive
from .bulk import update_rows
from .models import FederatedResource, FederatedType, Propagation, StatusBacklog
from .render import MANAGED_BY_LABEL, MANAGER, RESOURCE_LABEL, get_path, namespace_for

logger = logging.getLogger(__name__)
State = Propagation.State
AGGREGATE_CHUNK = 500
BACKLOG_BATCH = 5000
POD_SUMMARY = "pods"  # key of the pod summary in Propagation.status (beside the collected paths)
GENERATION = "metadata.generation"
SUMMED = ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas", "unavailableReplicas")


def _short(path: str) -> str:
    return path.rsplit(".", 1)[-1]


def aggregate(resource: FederatedResource, rows: list[dict]) -> dict:
    """Totals over the clusters plus each cluster's state, replicas, conditions and health,
    and the resource's health (health.py). `rows`: Propagation values (state, dirty,
    planned_replicas, status, error, applied_generation, cluster__slug, cluster__health)."""
    live = [r for r in rows if r["state"] != State.REMOVED]
    totals = {"desired": sum(r["planned_replicas"] or 0 for r in live if r["state"] != State.REMOVING)}
    clusters = {}
    for row in sorted(live, key=lambda r: r["cluster__slug"]):
        entry = {"state": row["state"], "planned": row["planned_replicas"], "error": row["error"][:300]}
        for path, value in (row["status"] or {}).items():
            key = _short(path)
            if key in SUMMED and isinstance(value, int):
                entry[key] = value
                totals[key] = totals.get(key, 0) + value
            elif key == "conditions" and isinstance(value, list):
                entry["conditions"] = [{k: c.get(k) for k in ("type", "status", "reason", "message")}
                                       for c in value if isinstance(c, dict)]
            else:
                entry[key] = value
        entry["health"] = health.member_health(
            entry, entry.get("pods"), resource.ftype.kind, has_replicas=resource.ftype.has_replicas,
            reachable=row.get("cluster__health") != Cluster.Health.UNREACHABLE)
        clusters[row["cluster__slug"]] = entry
    states = [r["state"] for r in live]
    counts = {s: states.count(s) for s in State.values if states.count(s)}
    converged = bool(live) and all(r["state"] == State.APPLIED and not r["dirty"] for r in live)
    ready = converged and (not resource.ftype.has_replicas or totals.get("readyReplicas", 0) >= totals["desired"])
    unplaced = (resource.status or {}).get("unplaced", 0)
    return {"totals": totals, "clusters": clusters, "states": counts, "converged": converged, "ready": ready,
            "unplaced": unplaced, "generation": resource.generation,
            "applied_generation": min((r["applied_generation"] or 0) for r in live) if live else None,
            "health": health.rollup({slug: e["health"] for slug, e in clusters.items()}, deleting=resource.deleting,
                                    unplaced=unplaced, has_replicas=resource.ftype.has_replicas, totals=totals)}


ROW_FIELDS = ("resource_id", "state", "dirty", "planned_replicas", "status", "error", "applied_generation",
              "cluster__slug", "cluster__health")


def aggregate_many(resource_ids) -> list[FederatedResource]:
    """Recompute the totals of these resources from their rows; returns those that changed."""
    ids = sorted(set(resource_ids))
    now = timezone.now()
    changed = []
    for start in range(0, len(ids), AGGREGATE_CHUNK):
        chunk = ids[start:start + AGGREGATE_CHUNK]
        resources = {r.pk: r for r in FederatedResource.objects.filter(pk__in=chunk).select_related("ftype")
                     .only("id", "tenant_id", "status", "generation", "deleting", "ftype__replicas_path", "ftype__kind")}
        rows: dict[int, list] = {pk: [] for pk in resources}
        for row in Propagation.objects.filter(resource_id__in=list(resources)).values(*ROW_FIELDS):
            rows[row["resource_id"]].append(row)
        batch = []
        for pk, resource in resources.items():
            summary = aggregate(resource, rows[pk])
            if summary != resource.status:
                resource.status, resource.status_updated_at = summary, now
                batch.append(resource)
        with locks.write_turn(), transaction.atomic():
            update_rows(FederatedResource, batch, ["status", "status_updated_at"])
        changed += batch
    return changed


def queue_aggregation(resource_ids) -> None:
    """Note (in the caller's transaction) that these resources' totals are to be recomputed."""
    StatusBacklog.objects.bulk_create([StatusBacklog(resource_id=pk) for pk in sorted(set(resource_ids))],
                                      batch_size=AGGREGATE_CHUNK)


def aggregate_pending() -> int:
    """Recompute the totals of every resource in the backlog, each once however many clusters
    queued it; returns how many totals changed. One run at a time (a lock that dies with its
    holder); a caller that finds the lock taken returns at once, because the holder looks at
    the backlog again after letting the lock go and so sees what that caller queued."""
    changed = 0
    while True:
        with locks.held("federation.status", 0) as acquired:
            if not acquired:
                return changed
            while last := StatusBacklog.objects.aggregate(last=Max("pk"))["last"]:
                # Every resource queued so far, once: a re-sync of 100 clusters queues each resource
                # from every cell's run, and reading the entries in batches recomputed it per batch.
                ids = sorted(set(StatusBacklog.objects.filter(pk__lte=last).values_list("resource_id", flat=True)))
                for start in range(0, len(ids), BACKLOG_BATCH):
                    resources = aggregate_many(ids[start:start + BACKLOG_BATCH])
                    changed += len(resources)
                    _announce(resources)
                    handoff.after_totals(resources)  # make-before-break moves whose new side is now ready
                StatusBacklog.objects.filter(pk__lte=last).delete()
        if not StatusBacklog.objects.exists():
            return changed


def _announce(resources) -> None:
    """One live event per tenant for the totals that changed (not one per cluster synced)."""
    by_tenant: dict[int, list[int]] = {}
    for resource in resources:
        by_tenant.setdefault(resource.tenant_id, []).append(resource.pk)
    at = timezone.now().isoformat()
    for tenant_id, ids in by_tenant.items():
        emit.to_tenant(tenant_id, {"type": "federation.synced", "resources": sorted(ids)[:100],
                                   "count": len(ids), "at": at}, permission="view_tenant")


def _owns_pods(ftype: FederatedType) -> bool:
    return ftype.group == "apps" and ftype.kind in health.POD_OWNERS


def _pod_summaries(client, listed) -> dict[tuple, dict]:
    """(kind, namespace, name) of each listed workload -> the summary of its pods. One pod
    list and one ReplicaSet list per namespace holding managed workloads (pods carry no
    label of ours, so they are found through ownerReferences: Pod -> ReplicaSet ->
    Deployment), so calls grow with namespaces, not with pods."""
    workloads: dict[str, dict[tuple, dict]] = {}
    for ftype, found in listed:
        if _owns_pods(ftype):
            for item in found.values():
                meta = item["metadata"]
                workloads.setdefault(meta.get("namespace"), {})[(ftype.kind, meta.get("name"))] = item
    summaries = {}
    for namespace, items in sorted(workloads.items()):
        if not namespace:
            continue
        pods = (kubeio.request(client, "GET", f"/api/v1/namespaces/{namespace}/pods") or {}).get("items") or ()
        sets = {}
        if any(kind == "Deployment" for kind, _name in items):
            listing = kubeio.request(client, "GET", f"/apis/apps/v1/namespaces/{namespace}/replicasets") or {}
            sets = {(rs.get("metadata") or {}).get("name"): rs for rs in listing.get("items") or ()}
        owned: dict[tuple, list] = {key: [] for key in items}
        refused: dict[tuple, str] = {}
        for rs in sets.values():
            for owner in _owners(rs):
                if owner in owned and not refused.get(owner):
                    refused[owner] = health.refusal_of(rs)
        for pod in pods:
            for owner in _owners(pod):
                if owner in owned:
                    owned[owner].append(pod)
                if owner[0] == "ReplicaSet" and owner[1] in sets:
                    for above in _owners(sets[owner[1]]):
                        if above in owned:
                            owned[above].append(pod)
        for key, item in items.items():
            refusal = health.refusal_of(item) or refused.get(key, "")
            summaries[(key[0], namespace, key[1])] = health.summarize_pods(owned[key], refusal)
    return summaries


def _owners(obj: dict) -> list[tuple]:
    return [(ref.get("kind"), ref.get("name")) for ref in (obj.get("metadata") or {}).get("ownerReferences") or ()
            if ref.get("controller", True)]


def collect_status(cluster_id: int) -> dict:
    """Read back the managed objects of one cluster; returns counts for the task log."""
    cluster = Cluster.objects.select_related("cell").filter(pk=cluster_id).first()
    if cluster is None:
        return {"skipped": "gone"}
    rows = list(Propagation.objects.filter(cluster=cluster).exclude(state=State.REMOVED)
                .select_related("resource__ftype", "resource__tenant", "resource__environment"))
    if not rows:
        return {"cluster": cluster.slug, "rows": 0}
    started = timezone.now()
    by_type: dict[int, list] = {}
    for row in rows:
        by_type.setdefault(row.resource.ftype_id, []).append(row)
    updated, vanished = [], []
    try:
        client = kube.api_client(cluster)
        listed = []
        for ftype in FederatedType.objects.filter(pk__in=by_type):
            listing = kubeio.list_objects(client, ftype.collection_path(), label_selector=f"{MANAGED_BY_LABEL}={MANAGER}")
            found = {}
            for item in (listing or {}).get("items") or ():
                meta = item.get("metadata") or {}
                found[((meta.get("labels") or {}).get(RESOURCE_LABEL), meta.get("namespace"))] = item
            listed.append((ftype, found))
        pods = _pod_summaries(client, listed)
        for ftype, found in listed:
            for row in by_type[ftype.pk]:
                resource = row.resource
                ns = namespace_for(resource.tenant.slug, resource.environment.slug) if ftype.namespaced else None
                item = found.get((str(resource.pk), ns))
                if item is None:
                    if row.state == State.APPLIED and not row.dirty and row.synced_at and row.synced_at < started:
                        vanished.append(row.pk)
                    continue
                meta = item["metadata"]
                summary = pods.get((ftype.kind, meta.get("namespace"), meta.get("name"))) if _owns_pods(ftype) else None
                version = meta.get("resourceVersion", "")
                if version == row.observed_resource_version and (summary is None or (row.status or {}).get(
                        POD_SUMMARY) == summary):
                    continue  # neither the object nor its pods changed
                row.status = sensitive.mask_status(
                    {p: v for p in ftype.status_fields if (v := get_path(item, p)) is not None},
                    sensitive.patterns_for(ftype))
                if ftype.has_replicas and isinstance(meta.get("generation"), int):
                    row.status[GENERATION] = meta["generation"]  # against status.observedGeneration
                if summary is not None:
                    row.status[POD_SUMMARY] = summary
                row.observed_resource_version, row.status_updated_at = version, timezone.now()
                updated.append(row)
    except (kubeio.ClusterUnreachable, CredentialsUnreadable, ApiException) as exc:
        logger.info("status of %s not collected: %s", cluster.slug, exc)
        return {"cluster": cluster.slug, "error": str(exc)[:300]}
    with transaction.atomic():
        update_rows(Propagation, updated, ["status", "observed_resource_version", "status_updated_at"])
        if vanished:
            Propagation.objects.filter(Q(pk__in=vanished), state=State.APPLIED, dirty=False).update(
                dirty=True, applied_hash="", state=State.PENDING, changed_at=timezone.now(),
                error="the object was missing from the cluster; putting it back")
        queue_aggregation({r.resource_id for r in updated} | {r.resource_id for r in rows if r.pk in vanished})
    aggregate_pending()
    if vanished:
        from .scheduling import enqueue_sync

        enqueue_sync([cluster.pk])
    return {"cluster": cluster.slug, "updated": len(updated), "vanished": len(vanished)}

