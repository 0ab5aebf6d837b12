"""What the operators' dashboard (/ops/) shows, across all tenants: the topology coloured
by health, capacity use per cluster, failed propagations, and workloads that are
degraded or failed. Reads only; the view checks the platform permission first.

Colours follow the workload health contract (healthy | progressing | degraded | failed |
unknown). A cluster's state is the worst of its own health (unreachable or error:
failed; cordoned, or in a failed cell or zone: degraded) and of the workloads that are
degraded or failed on it.
"""
from django.urls import reverse
from django.utils.translation import gettext as _

from clusters.models import Cluster

from . import health, quota_usage
from .models import FederatedResource, MemberNamespace, Propagation

PERMISSION = "clusters.view_cluster"
LIST_LIMIT = 50
BAD = ("degraded", "failed")
RANK = {"healthy": 0, "unknown": 1, "progressing": 2, "degraded": 3, "failed": 4}
CLUSTER_HEALTH = {Cluster.Health.HEALTHY: "healthy", Cluster.Health.UNKNOWN: "unknown",
                  Cluster.Health.UNREACHABLE: "failed", Cluster.Health.ERROR: "failed"}


def _health(status: dict) -> dict:
    return (status or {}).get("health") or {"state": "unknown", "reason": ""}


def worst(*states) -> str:
    return max(states, key=lambda s: RANK.get(s, 1)) if states else "unknown"


def unhealthy_workloads(limit: int = LIST_LIMIT) -> list[FederatedResource]:
    return list(FederatedResource.objects.filter(status__health__state__in=BAD)
                .select_related("tenant", "environment", "ftype").order_by("tenant__slug", "name")[:limit])


def failed_propagations(limit: int = LIST_LIMIT) -> list[Propagation]:
    return list(Propagation.objects.filter(state=Propagation.State.ERROR)
                .select_related("cluster", "resource__tenant", "resource__environment", "resource__ftype")
                .defer("resource__template", "resource__status").order_by("-changed_at", "pk")[:limit])


def cluster_state(cluster: Cluster, workloads: dict[str, str]) -> tuple[str, str]:
    """(state, reason) of one cluster for the map."""
    state = CLUSTER_HEALTH.get(cluster.health, "unknown")
    reason = cluster.get_health_display()
    if state == "healthy" and (cluster.cordoned or cluster.cell.failed or cluster.cell.zone.failed):
        state, reason = "degraded", _("cordoned") if cluster.cordoned else _("cell or zone marked failed")
    if cluster.slug in workloads and RANK[workloads[cluster.slug]] > RANK.get(state, 1):
        state, reason = workloads[cluster.slug], _("workloads %(state)s") % {
            "state": health.STATE_WORDS.get(workloads[cluster.slug], workloads[cluster.slug])}
    return state, reason


def topology(clusters, workloads) -> dict:
    """The treemap's data: regions -> zones -> cells -> clusters, each with state and url."""
    regions: dict = {}
    for cluster in clusters:
        cell, zone = cluster.cell, cluster.cell.zone
        region = regions.setdefault(zone.region.slug, {"name": zone.region.name, "children": {}})
        z = region["children"].setdefault(zone.slug, {"name": zone.name, "children": {},
                                                      "url": reverse("clusters:zone", args=[zone.slug])})
        c = z["children"].setdefault(cell.slug, {"name": cell.name, "children": [],
                                                 "url": reverse("clusters:cell", args=[cell.slug])})
        state, _reason = cluster_state(cluster, workloads)
        c["children"].append({"name": cluster.slug, "state": state, "url": cluster.get_absolute_url(),
                              "value": 1})

    def close(node):
        children = node["children"]
        children = [close(child) for child in children.values()] if isinstance(children, dict) else children
        node["children"] = children
        node["state"] = worst(*[child["state"] for child in children])
        return node

    return {"name": "platform", "children": [close(region) for region in regions.values()]}


def capacity(clusters) -> list[dict]:
    """Per cluster: the quota usage its namespaces report, summed, against its nodes' allocatable."""
    used: dict[int, dict] = {}
    for cluster_id, status in MemberNamespace.objects.exclude(quota_status={}).values_list("cluster_id",
                                                                                           "quota_status"):
        quota_usage._add(used.setdefault(cluster_id, {}), quota_usage.used_of(status))
    allocatable = quota_usage.allocatable([c.pk for c in clusters])
    rows = []
    for cluster in clusters:
        total, mine = allocatable.get(cluster.pk), used.get(cluster.pk, {})
        shares = {}
        for name in ("cpu_millicores", "memory_mib", "pods"):
            value = mine.get(name, 0)
            shares[name] = {"used": value, "allocatable": total.get(name) if total else None,
                            "percent": round(100 * value / total[name], 1) if total and total.get(name) else None}
        rows.append({"cluster": cluster, "shares": shares, "reported": total is not None})
    return rows


def dashboard() -> dict:
    clusters = list(Cluster.objects.select_related("cell__zone__region").order_by(
        "cell__zone__region__slug", "cell__zone__slug", "cell__slug", "slug"))
    bad = unhealthy_workloads()
    workloads: dict[str, str] = {}
    for resource in bad:
        for slug, entry in ((resource.status or {}).get("clusters") or {}).items():
            state = _health(entry)["state"]
            if state in BAD:
                workloads[slug] = worst(workloads.get(slug, "healthy"), state)
    for resource in bad:
        resource.health = _health(resource.status)
    capacity_rows = capacity(clusters)
    chart = {"categories": [row["cluster"].slug for row in capacity_rows], "max": 100, "unit": "%",
             "series": [{"name": name, "values": [row["shares"][key]["percent"] or 0 for row in capacity_rows]}
                        for key, name in (("cpu_millicores", _("CPU")), ("memory_mib", _("Memory")), ("pods", _("Pods")))]}
    return {"clusters": clusters, "topology": topology(clusters, workloads), "capacity": capacity_rows,
            "capacity_chart": chart, "health_legend": [{"state": s} for s in RANK], "failed_propagations": failed_propagations(), "unhealthy": bad,
            "counts": {"clusters": len(clusters),
                       "unhealthy_clusters": sum(1 for c in clusters if cluster_state(c, workloads)[0] in BAD),
                       "failed_propagations": Propagation.objects.filter(state=Propagation.State.ERROR).count(),
                       "unhealthy_workloads": FederatedResource.objects.filter(status__health__state__in=BAD)
                       .count()}}
