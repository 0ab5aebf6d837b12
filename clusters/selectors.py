"""Reads of the cluster registry, scoped to who is asking.

- Platform operators (global `clusters.view_cluster`) see the whole topology.
- Members of a tenant (and its API tokens) see, read-only, the cells and clusters
  their tenant's environments are bound to, and the zones and regions around them.
- Everyone else sees nothing: an invisible object answers 404 like a missing one.
"""
from dataclasses import dataclass, field

from django.db.models import Q, QuerySet
from django.http import Http404

from paas.actors import Actor
from paas.permissions import can_platform
from tenants.models import Environment
from tenants.selectors import environments_visible_to, tenants_visible_to

from .models import BindingRequest, Cell, Cluster, EnvironmentBinding, PlatformSwitch, Region, Zone


def is_operator(actor: Actor) -> bool:
    return can_platform(actor, "clusters.view_cluster")


def bindings_visible_to(actor: Actor) -> QuerySet[EnvironmentBinding]:
    bindings = EnvironmentBinding.objects.select_related(
        "environment__tenant", "cell__zone__region", "cluster__cell__zone__region")
    if is_operator(actor):
        return bindings
    return bindings.filter(environment__tenant__in=tenants_visible_to(actor))


def clusters_visible_to(actor: Actor) -> QuerySet[Cluster]:
    clusters = Cluster.objects.select_related("cell__zone__region")
    if is_operator(actor):
        return clusters
    bindings = bindings_visible_to(actor)
    return clusters.filter(Q(pk__in=bindings.filter(cluster__isnull=False).values("cluster"))
                           | Q(cell__in=bindings.filter(cell__isnull=False).values("cell")))


def cells_visible_to(actor: Actor) -> QuerySet[Cell]:
    cells = Cell.objects.select_related("zone__region")
    if is_operator(actor):
        return cells
    bindings = bindings_visible_to(actor)
    return cells.filter(Q(pk__in=bindings.filter(cell__isnull=False).values("cell"))
                        | Q(pk__in=bindings.filter(cluster__isnull=False).values("cluster__cell")))


def zones_visible_to(actor: Actor) -> QuerySet[Zone]:
    zones = Zone.objects.select_related("region")
    return zones if is_operator(actor) else zones.filter(pk__in=cells_visible_to(actor).values("zone"))


def regions_visible_to(actor: Actor) -> QuerySet[Region]:
    regions = Region.objects.all()
    return regions if is_operator(actor) else regions.filter(pk__in=zones_visible_to(actor).values("region"))


def _get(queryset, message: str, **lookup):
    try:
        return queryset.get(**lookup)
    except queryset.model.DoesNotExist:
        raise Http404(message) from None


def cluster_get(actor: Actor, slug: str) -> Cluster:
    return _get(clusters_visible_to(actor), "No such cluster.", slug=slug)


def cell_get(actor: Actor, slug: str) -> Cell:
    return _get(cells_visible_to(actor), "No such cell.", slug=slug)


def zone_get(actor: Actor, slug: str) -> Zone:
    return _get(zones_visible_to(actor), "No such zone.", slug=slug)


def region_get(actor: Actor, slug: str) -> Region:
    return _get(regions_visible_to(actor), "No such region.", slug=slug)


def binding_get(actor: Actor, pk) -> EnvironmentBinding:
    return _get(bindings_visible_to(actor), "No such binding.", pk=pk)


def platform_switch() -> PlatformSwitch:
    return PlatformSwitch.get()


def environments_for_bindings(actor: Actor) -> QuerySet[Environment]:
    """Environments whose bindings the actor may see (all of them for operators)."""
    if is_operator(actor):
        return Environment.objects.select_related("tenant").order_by("tenant__slug", "slug")
    return environments_visible_to(actor).order_by("tenant__slug", "slug")


def clusters_for_environment(environment: Environment) -> QuerySet[Cluster]:
    """Every cluster an environment may place workloads on (bound directly or through its cell).
    Not scoped to an actor: for the federation engine."""
    bindings = EnvironmentBinding.objects.filter(environment=environment)
    return Cluster.objects.select_related("cell__zone__region").filter(
        Q(pk__in=bindings.filter(cluster__isnull=False).values("cluster"))
        | Q(cell__in=bindings.filter(cell__isnull=False).values("cell")))


# --- the topology tree ------------------------------------------------------------

@dataclass
class ZoneNode:
    zone: Zone
    cells: list = field(default_factory=list)  # [(cell, [cluster, ...])]


@dataclass
class RegionNode:
    region: Region
    zones: list = field(default_factory=list)


def topology(actor: Actor) -> list[RegionNode]:
    """Regions → zones → (cell, clusters) of what the actor may see, in display order."""
    clusters_by_cell: dict[int, list[Cluster]] = {}
    for cluster in clusters_visible_to(actor).order_by("slug"):
        clusters_by_cell.setdefault(cluster.cell_id, []).append(cluster)
    zones_by_region: dict[int, list[ZoneNode]] = {}
    zone_nodes: dict[int, ZoneNode] = {}
    for zone in zones_visible_to(actor).order_by("slug"):
        zone_nodes[zone.pk] = node = ZoneNode(zone)
        zones_by_region.setdefault(zone.region_id, []).append(node)
    for cell in cells_visible_to(actor).order_by("slug"):
        if cell.zone_id in zone_nodes:
            zone_nodes[cell.zone_id].cells.append((cell, clusters_by_cell.get(cell.pk, [])))
    return [RegionNode(region, zones_by_region.get(region.pk, []))
            for region in regions_visible_to(actor).order_by("slug")]


def binding_requests_visible_to(actor: Actor) -> QuerySet[BindingRequest]:
    """Operators who may bind see every request; tenant members those of their tenants."""
    requests = BindingRequest.objects.select_related("environment__tenant", "cell__zone", "cluster__cell",
                                                     "requested_by", "decided_by")
    if can_platform(actor, "clusters.add_environmentbinding"):
        return requests
    return requests.filter(environment__tenant__in=tenants_visible_to(actor))


def request_targets() -> tuple[QuerySet[Cell], QuerySet[Cluster]]:
    """What a tenant may ask to be bound to: every cell and cluster, by name (the request form)."""
    return (Cell.objects.select_related("zone").order_by("slug"),
            Cluster.objects.select_related("cell").order_by("slug"))
